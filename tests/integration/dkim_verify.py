#!/usr/bin/python3
"""Verifies every DKIM-Signature of one message with dkimpy and with OpenDKIM, for
test_dkim_signing.py. Runs under Debian's /usr/bin/python3 (python3-dkim is Debian's; the
integration runner may be another Python).

stdin: JSON {"message": base64 bytes, "records": {"sel._domainkey.dom": "v=DKIM1; ..."},
             "opendkim": true|false}
stdout: JSON list, one entry per signature in header order:
        {"d": ..., "s": ..., "a": ..., "t": ..., "dkimpy": true|false,
         "opendkim": exit status or null (not run), "opendkim_err": "..."}

dkimpy gets the records from a dnsfunc; OpenDKIM (opendkim-testmsg, which can only ask DNS)
runs in a private network and mount namespace with dnsmasq serving them, the approach of
tests/conformance/dkim_interop.py (whose opendkim_verify is reused). opendkim-testmsg judges
the message as a whole, so each signature is checked in a copy that keeps only that one."""
import base64
import json
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'conformance'))
import dkim_interop  # noqa: E402


def fields(msg):
    head = msg.split(b'\r\n\r\n', 1)[0] + b'\r\n'
    return [m.group(0) for m in re.finditer(rb'(?m)^[^ \t\r\n][^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*',
                                            head)]


def tags(field):
    value = field.split(b':', 1)[1]
    value = re.sub(rb'\s+', b'', value)
    out = {}
    for part in value.split(b';'):
        if b'=' in part:
            k, v = part.split(b'=', 1)
            out[k.decode()] = v.decode()
    return out


def main():
    req = json.load(sys.stdin)
    msg = base64.b64decode(req['message'])
    records = {k.lower(): v for k, v in req['records'].items()}
    sigs = [f for f in fields(msg) if f.lower().startswith(b'dkim-signature:')]
    out = []
    work = tempfile.mkdtemp(prefix='dkim-verify-')
    try:
        for i, f in enumerate(sigs):
            t = tags(f)
            r = {'d': t.get('d'), 's': t.get('s'), 'a': t.get('a'), 't': t.get('t'),
                 'dkimpy': dkim_interop.dkimpy_verify(msg, records, i),
                 'opendkim': None, 'opendkim_err': ''}
            if req.get('opendkim'):
                others = [g for g in sigs if g is not f]
                only = msg
                for g in others:
                    only = only.replace(g, b'', 1)
                rc, err = dkim_interop.opendkim_verify(only, records, work)
                r['opendkim'], r['opendkim_err'] = rc, err
            out.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
