#!/usr/bin/python3
"""DKIM interoperability: yubin's DKIM code (driven through build/dkim-tool) against two
independent implementations from Debian, dkimpy (python3-dkim) and OpenDKIM (opendkim-tools).

  - yubin signs (RSA-2048, Ed25519) -> dkimpy verifies, OpenDKIM's opendkim-testmsg verifies;
    a changed body or signed header makes both of them fail.
  - dkimpy signs (simple/simple, relaxed/relaxed, relaxed/simple; RSA and Ed25519; with and
    without l=) -> yubin verifies; text appended after an l= signature still passes and is
    reported as l=; a changed body fails "body hash did not match", a changed signed header
    fails "signature did not verify".
  - OpenDKIM signs -> yubin: opendkim-testmsg can only sign RSA-SHA1 (it has no option for the
    algorithm, and refuses Ed25519 keys with "Resource unavailable"), so yubin must answer
    `policy` with the RFC 8301 reason.
  - The RFC 8463 Appendix A message (tests/testdata/dkim-rfc8463) verifies with all three.

dkimpy gets the key records from a dnsfunc answering from a dict (a resolver for the test only).
opendkim-testmsg can only look keys up in DNS, so it runs in its own network and mount
namespace (unshare): dnsmasq serves the TXT records on that namespace's 127.0.0.1:53 and a
private /etc/resolv.conf is bind-mounted over the real one; nothing outside is touched, and the
namespace's processes die with it. Prints "dkim-interop: N passed, M failed"."""

import base64
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import dkim
except ImportError:
    # python3-dkim is Debian's: under another Python (pyenv), run again with Debian's.
    if sys.executable != '/usr/bin/python3' and os.path.exists('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    print('dkim-interop: python3-dkim is missing (scripts/deps --test)')
    print('dkim-interop: 0 passed, 1 failed')
    sys.exit(1)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get('DKIM_TOOL', os.path.join(ROOT, 'build', 'dkim-tool'))
TESTDATA = os.environ.get('YUBIN_TESTDATA', os.path.join(ROOT, 'tests', 'testdata'))
DOMAIN = 'example.org'

passed = 0
failed = 0


def check(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print('ok    ' + name)
    else:
        failed += 1
        print('FAIL  ' + name + (': ' + detail if detail else ''))


MESSAGE = (b'From: Ann Example <ann@example.org>\r\n'
           b'To: Bob <bob@example.net>\r\n'
           b'Cc: carol@example.net\r\n'
           b'Subject: Lunch  on\tFriday?\r\n'
           b'Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n'
           b'Message-ID: <lunch.1@example.org>\r\n'
           b'MIME-Version: 1.0\r\n'
           b'Content-Type: text/plain; charset=utf-8\r\n'
           b'X-Unsigned: anything\r\n'
           b'\r\n'
           b'Hi Bob,\r\n'
           b'\r\n'
           b'Noon at the   usual place?  \t\r\n'
           b'Ann\r\n'
           b'\r\n'
           b'\r\n')


def run(cmd, data, timeout=30):
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def yubin_sign(msg, selector, keyfile):
    r = run([TOOL, 'sign', '--domain', DOMAIN, '--selector', selector, '--key', keyfile], msg)
    if r.returncode != 0:
        raise RuntimeError('dkim-tool sign failed: ' + r.stderr.decode())
    return r.stdout


def yubin_verify(msg, records):
    args = [TOOL, 'verify']
    for name, rec in records.items():
        args += ['--txt', '%s=%s' % (name, rec)]
    r = run(args, msg)
    return r.stdout.decode().splitlines()


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        rec = records.get(name.rstrip('.').lower())
        return rec.encode() if rec else None
    return dnsfunc


def dkimpy_verify(msg, records, idx=0):
    d = dkim.DKIM(msg)
    try:
        return bool(d.verify(idx=idx, dnsfunc=dnsfunc_for(records)))
    except dkim.DKIMException:
        return False


def opendkim_verify(msg, records, work):
    """opendkim-testmsg in a private network + mount namespace with dnsmasq serving records.
    Returns (exit status, stderr)."""
    resolv = os.path.join(work, 'resolv.conf')
    with open(resolv, 'w') as f:
        f.write('nameserver 127.0.0.1\n')
    txt = []
    for name, rec in records.items():
        chunks = [rec[i:i + 250] for i in range(0, len(rec), 250)]
        # dnsmasq makes each comma-separated piece one TXT string (at most 255 bytes each);
        # no quotes: passed as one argument, they would become part of the record.
        txt.append('--txt-record=%s,%s' % (name, ','.join(chunks)))
    script = os.path.join(work, 'ns.sh')
    with open(script, 'w') as f:
        f.write('set -e\nip link set lo up\nmount --bind "%s" /etc/resolv.conf\n' % resolv)
        f.write('dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces '
                '--listen-address=127.0.0.1 --port=53 %s &\n' % ' '.join("'%s'" % t for t in txt))
        f.write('sleep 0.3\nset +e\nopendkim-testmsg\n')
    userns = [] if os.geteuid() == 0 else ['--map-root-user']  # mounts need root in the ns
    r = run(['unshare'] + userns + ['--mount', '--net', '--pid', '--fork', 'sh', script], msg)
    return r.returncode, r.stderr.decode().strip()


def genkeys(work):
    rsa = os.path.join(work, 'rsa.pem')
    ed = os.path.join(work, 'ed.pem')
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
                    'rsa_keygen_bits:2048', '-out', rsa], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out', ed], check=True)
    rsa_pub = subprocess.run(['openssl', 'pkey', '-in', rsa, '-pubout', '-outform', 'DER'],
                             check=True, stdout=subprocess.PIPE).stdout
    ed_pub = subprocess.run(['openssl', 'pkey', '-in', ed, '-pubout', '-outform', 'DER'],
                            check=True, stdout=subprocess.PIPE).stdout[-32:]
    ed_der = subprocess.run(['openssl', 'pkey', '-in', ed, '-outform', 'DER'],
                            check=True, stdout=subprocess.PIPE).stdout
    with open(rsa, 'rb') as f:
        rsa_pem = f.read()
    keys = {
        'rsa': {'file': rsa, 'dkimpy': rsa_pem, 'alg': b'rsa-sha256',
                'record': 'v=DKIM1; k=rsa; p=' + base64.b64encode(rsa_pub).decode()},
        'ed': {'file': ed, 'dkimpy': base64.b64encode(ed_der[-32:]), 'alg': b'ed25519-sha256',
               'record': 'v=DKIM1; k=ed25519; p=' + base64.b64encode(ed_pub).decode()},
    }
    return keys


def tamper_body(msg):
    return msg.replace(b'Noon at', b'Midnight at')


def tamper_header(msg):
    return msg.replace(b'Subject: Lunch', b'Subject: Dinner')


def yubin_to_others(keys, work):
    for sel, k in keys.items():
        records = {'%s._domainkey.%s' % (sel, DOMAIN): k['record']}
        signed = yubin_sign(MESSAGE, sel, k['file'])
        check('yubin %s -> dkimpy verifies' % sel, dkimpy_verify(signed, records))
        check('yubin %s, body changed -> dkimpy fails' % sel,
              not dkimpy_verify(tamper_body(signed), records))
        check('yubin %s, Subject changed -> dkimpy fails' % sel,
              not dkimpy_verify(tamper_header(signed), records))
        rc, err = opendkim_verify(signed, records, work)
        check('yubin %s -> OpenDKIM verifies' % sel, rc == 0, 'exit %d: %s' % (rc, err))
        rc, err = opendkim_verify(tamper_body(signed), records, work)
        check('yubin %s, body changed -> OpenDKIM fails' % sel,
              rc != 0 and 'Bad signature' in err, 'exit %d: %s' % (rc, err))
        rc, err = opendkim_verify(tamper_header(signed), records, work)
        check('yubin %s, Subject changed -> OpenDKIM fails' % sel,
              rc != 0 and 'Bad signature' in err, 'exit %d: %s' % (rc, err))


def expect(name, lines, result, reason=None, l_used=None):
    ok = len(lines) == 1 and lines[0].startswith(result + ' ')
    if ok and reason:
        ok = reason in lines[0]
    if ok and l_used is not None:
        ok = (' l=yes ' in lines[0]) == l_used
    check(name, ok, repr(lines))


def dkimpy_to_yubin(keys):
    for sel, k in keys.items():
        records = {'%s._domainkey.%s' % (sel, DOMAIN): k['record']}
        for canon in ((b'simple', b'simple'), (b'relaxed', b'relaxed'), (b'relaxed', b'simple')):
            for length in (False, True):
                name = 'dkimpy %s %s/%s%s' % (sel, canon[0].decode(), canon[1].decode(),
                                               ' l=' if length else '')
                sig = dkim.sign(MESSAGE, sel.encode(), DOMAIN.encode(), k['dkimpy'],
                                canonicalize=canon, signature_algorithm=k['alg'],
                                length=length)
                signed = sig + MESSAGE
                expect(name + ' -> yubin pass', yubin_verify(signed, records), 'pass',
                       l_used=length)
                expect(name + ', body changed -> yubin fail',
                       yubin_verify(tamper_body(signed), records), 'fail',
                       'body hash did not match')
                expect(name + ', Subject changed -> yubin fail',
                       yubin_verify(tamper_header(signed), records), 'fail',
                       'signature did not verify')
                if length:
                    appended = signed + b'P.S. appended by a mailing list\r\n'
                    expect(name + ', text appended -> yubin pass, l= reported',
                           yubin_verify(appended, records), 'pass', 'l= leaves text', True)
                    # dkimpy agrees: the appended text is outside the signature
                    check(name + ', text appended -> dkimpy pass too',
                          dkimpy_verify(appended, records))


def opendkim_to_yubin(keys, work):
    records = {'rsa._domainkey.%s' % DOMAIN: keys['rsa']['record']}
    # -C: without it, opendkim-testmsg 2.11.0~beta2 writes the folded header with LF but the
    # length of the CRLF form, so the last bytes of b= appear twice and the signature is broken.
    r = run(['opendkim-testmsg', '-C', '-d', DOMAIN, '-s', 'rsa', '-k', keys['rsa']['file']],
            MESSAGE)
    signed = r.stdout
    check('OpenDKIM signs', r.returncode == 0 and signed.startswith(b'DKIM-Signature:'),
          r.stderr.decode())
    expect('OpenDKIM rsa-sha1 -> yubin policy (RFC 8301)', yubin_verify(signed, records),
           'policy', 'RSA-SHA1, which RFC 8301 no longer accepts')
    # the same signature is good: dkimpy (which still accepts SHA-1) and OpenDKIM verify it
    check('OpenDKIM rsa-sha1 -> dkimpy verifies (sanity)', dkimpy_verify(signed, records))
    r = run(['opendkim-testmsg', '-C', '-d', DOMAIN, '-s', 'ed', '-k', keys['ed']['file']],
            MESSAGE)
    print('note  opendkim-testmsg with an Ed25519 key: exit %d (%s)' %
          (r.returncode, r.stderr.decode().strip() or 'signed'))


def rfc8463(work):
    path = os.path.join(TESTDATA, 'dkim-rfc8463')
    if not os.path.isdir(path):
        check('RFC 8463 test data at ' + path, False, 'missing (set YUBIN_TESTDATA)')
        return
    records = {}
    with open(os.path.join(path, 'dns-txt-records.txt')) as f:
        for line in f:
            if line.strip():
                name, rec = line.strip().split(' ', 1)
                records[name] = rec
    with open(os.path.join(path, 'signed-ed25519-and-rsa.msg'), 'rb') as f:
        msg = f.read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    lines = yubin_verify(msg, records)
    check('RFC 8463 A.3 -> yubin: both pass',
          len(lines) == 2 and all(x.startswith('pass ') for x in lines), repr(lines))
    check('RFC 8463 A.3 -> dkimpy: both pass',
          dkimpy_verify(msg, records, 0) and dkimpy_verify(msg, records, 1))
    rc, err = opendkim_verify(msg, records, work)
    check('RFC 8463 A.3 -> OpenDKIM verifies', rc == 0, 'exit %d: %s' % (rc, err))


def main():
    for tool in (TOOL, shutil.which('opendkim-testmsg'), shutil.which('dnsmasq'),
                 shutil.which('unshare')):
        if not tool or not os.path.exists(tool):
            print('dkim-interop: missing %s (make all; scripts/deps --test)' % tool)
            print('dkim-interop: 0 passed, 1 failed')
            return 1
    work = tempfile.mkdtemp(prefix='dkim-interop-')
    try:
        keys = genkeys(work)
        yubin_to_others(keys, work)
        dkimpy_to_yubin(keys)
        opendkim_to_yubin(keys, work)
        rfc8463(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('dkim-interop: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
