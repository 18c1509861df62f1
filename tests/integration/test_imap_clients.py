"""Real IMAP clients against yubin, each installed with apt when missing:

- mbsync (isync): two-way sync of 1,000 messages and some folders into a local Maildir over
  implicit TLS, then changes on both sides (flags, deletions, new messages, a new folder each),
  a second sync, and both sides must agree; a third sync changes nothing;
- offlineimap3: the same at a smaller scale, over plain IMAP on loopback and over implicit
  TLS with the certificate's fingerprint;
- mutt in a tmux pane (it needs a terminal): opens INBOX over IMAPS, pipes a message to a file
  and copies one to another folder;
- fetchmail over IMAP (keep, then no keep over STARTTLS).

What a client stores locally is compared with what the server stored (Maildir files have LF
line ends: mbsync, offlineimap and mutt convert; fetchmail with `no stripcr` keeps CRLF)."""

import glob
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase, ensure_debian_package, message, token  # noqa
from imap_common import (MARKER_RE, assert_status, deliver, deliver_many,  # noqa
                         fetches, logged_in, stored_by_marker)

DOMAIN = 'example.test'
MAILDIR_FLAGS = {'D': '\\Draft', 'F': '\\Flagged', 'R': '\\Answered', 'S': '\\Seen',
                 'T': '\\Deleted'}
SYSTEM_FLAGS = set(MAILDIR_FLAGS.values())


def acct(name):
    return '%s@%s' % (name, DOMAIN)


def lf(b):
    return b.replace(b'\r\n', b'\n')


TUID_RE = re.compile(rb'(?m)^X-TUID: [^\r\n]*\r?\n')


def untuid(data):
    """mbsync puts an `X-TUID:` header into every message it copies (in either direction) to
    find it again; it is the client's, so comparisons leave it out."""
    head, sep, body = data.partition(b'\n\n')
    return TUID_RE.sub(b'', head + sep, count=1) + body


def marker_of(data):
    m = MARKER_RE.search(data)
    if not m:
        raise AssertionError('message without marker: %r' % data[:300])
    return m.group(1).decode()


# ---- both sides of a sync as {folder: {marker: (flags, bytes with LF)}} ----------------------
def server_state(srv, addr, password=DEFAULT_PASSWORD):
    out = {}
    with logged_in(srv, addr, password) as c:
        r = c.cmd('LIST "" *')
        assert r.status == 'OK', r
        names = []
        for l in r.lines('LIST'):
            m = re.match(r'^LIST \(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))$', l)
            assert m, l
            if '\\Noselect' in m.group(1) or '\\NonExistent' in m.group(1):
                continue
            names.append(m.group(2) if m.group(2) is not None else m.group(3))
        for name in names:
            r = c.cmd('EXAMINE "%s"' % name)
            assert r.status == 'OK', r
            n = int([l for l in r.lines() if l.endswith(' EXISTS')][0].split()[0])
            box = {}
            if n:
                r = c.cmd('FETCH 1:* (FLAGS BODY.PEEK[])')
                assert r.status == 'OK', r
                for f in fetches(r).values():
                    data = f['BODY[]']
                    flags = frozenset(x for x in f['FLAGS'] if x in SYSTEM_FLAGS)
                    mk = marker_of(data)
                    assert mk not in box, 'marker %s twice in %s' % (mk, name)
                    box[mk] = (flags, lf(data))
            out[name] = box
    return out


def maildir_files(folder):
    for sub in ('new', 'cur'):
        d = os.path.join(folder, sub)
        if os.path.isdir(d):
            for n in sorted(os.listdir(d)):
                yield os.path.join(d, n)


def maildir_flags(path):
    name = os.path.basename(path)
    if ':2,' not in name:
        return frozenset()
    return frozenset(MAILDIR_FLAGS[ch] for ch in name.split(':2,', 1)[1] if ch in MAILDIR_FLAGS)


def local_state(root, skip=()):
    """Every Maildir folder under root (nested directories = hierarchy)."""
    out = {}
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith('.') and d not in
                       ('cur', 'new', 'tmp')]
        if not all(os.path.isdir(os.path.join(dirpath, s)) for s in ('cur', 'new', 'tmp')):
            continue
        name = os.path.relpath(dirpath, root).replace(os.sep, '/')
        if name in skip:
            continue
        box = {}
        for path in maildir_files(dirpath):
            with open(path, 'rb') as f:
                data = f.read()
            mk = marker_of(data)
            assert mk not in box, 'marker %s twice in local %s' % (mk, name)
            box[mk] = (maildir_flags(path), data)
        out[name] = box
    return out


def diff_states(server, local, normalize=None):
    """A readable list of differences (empty when both sides agree)."""
    problems = []
    if normalize:
        server = {n: {k: (f, normalize(d)) for k, (f, d) in b.items()} for n, b in server.items()}
        local = {n: {k: (f, normalize(d)) for k, (f, d) in b.items()} for n, b in local.items()}
    for name in sorted(set(server) | set(local)):
        if name not in local:
            problems.append('folder %r only on the server (%d messages)'
                            % (name, len(server[name])))
            continue
        if name not in server:
            problems.append('folder %r only locally (%d messages)' % (name, len(local[name])))
            continue
        s, l = server[name], local[name]
        only_s = sorted(set(s) - set(l))
        only_l = sorted(set(l) - set(s))
        if only_s:
            problems.append('%s: %d messages only on the server, e.g. %s' % (name, len(only_s),
                                                                          only_s[:3]))
        if only_l:
            problems.append('%s: %d messages only locally, e.g. %s' % (name, len(only_l),
                                                                    only_l[:3]))
        for mk in sorted(set(s) & set(l)):
            if s[mk][0] != l[mk][0]:
                problems.append('%s %s: flags server %s, local %s' % (
                    name, mk, sorted(s[mk][0]), sorted(l[mk][0])))
            if s[mk][1] != l[mk][1]:
                a, b = s[mk][1], l[mk][1]
                i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]),
                         min(len(a), len(b)))
                problems.append('%s %s: bytes differ at %d: server %r local %r' % (
                    name, mk, i, a[max(0, i - 30):i + 40], b[max(0, i - 30):i + 40]))
    return problems


def new_local_message(folder, marker, subject, flags=''):
    """Put a message (LF line ends, as a local mail program writes) into a Maildir folder."""
    data = lf(message(marker, subject=subject))
    for sub in ('cur', 'new', 'tmp'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    name = '%d.%s.local' % (time.time() * 1000000, marker)
    if flags:
        path = os.path.join(folder, 'cur', name + ':2,' + flags)
    else:
        path = os.path.join(folder, 'new', name)
    with open(path, 'wb') as f:
        f.write(data)
    return data


def set_local_flags(path, flags):
    """Rename a Maildir file to carry exactly these flags (moved to cur/)."""
    base = os.path.basename(path).split(':2,')[0]
    new = os.path.join(os.path.dirname(os.path.dirname(path)), 'cur',
                       base + ':2,' + ''.join(sorted(flags)))
    os.rename(path, new)
    return new


def cert_fingerprint(srv):
    pem = open(os.path.join(srv.data, 'tls', 'cert.pem')).read()
    first = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', pem,
                      re.S).group(0)
    return first, hashlib.sha1(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def run(cmd, env=None, timeout=180, cwd=None):
    t0 = time.monotonic()
    cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=cwd)
    return cp.returncode, cp.stdout.decode(errors='replace'), time.monotonic() - t0


def tail(log, n=40):
    return '\n'.join(log.splitlines()[-n:])


# ---- the changes both sync tests make between their syncs ------------------------------------
class TwoWaySync:
    """Mixin: populate, sync, change both sides, sync, compare. Subclasses give sync()."""

    def populate(self, addr, n_inbox, folders):
        """n_inbox messages in INBOX and {folder: n} elsewhere, all delivered over SMTP (fast)
        and moved with UID MOVE; some flags. Returns the stored INBOX {marker: bytes}."""
        total = n_inbox + sum(folders.values())
        t0 = time.monotonic()
        deliver_many(self.srv, addr, total)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('SELECT INBOX')
            self.assertIn('%d EXISTS' % total, r.lines(), r)
            uid = n_inbox + 1
            for name, n in folders.items():
                if name not in ('Archive', 'Sent', 'Drafts', 'Trash', 'Junk'):
                    assert_status(self, c.cmd('CREATE "%s"' % name), 'OK')
                assert_status(self, c.cmd('UID MOVE %d:%d "%s"' % (uid, uid + n - 1, name)), 'OK')
                uid += n
            assert_status(self, c.cmd('STORE 1:%d +FLAGS.SILENT (\\Seen)' % (n_inbox // 10)),
                          'OK')
            assert_status(self, c.cmd('STORE %d:%d +FLAGS.SILENT (\\Flagged)'
                                      % (n_inbox // 20, n_inbox // 20 + 5)), 'OK')
        print('\n     %d messages delivered and sorted in %.1f s' % (total, time.monotonic() - t0),
              flush=True)
        return stored_by_marker(self.srv, addr)

    NORMALIZE = None

    def assert_in_sync(self, addr, root, what, skip=()):
        server = server_state(self.srv, addr)
        local = local_state(root, skip)
        problems = diff_states(server, local, self.NORMALIZE)
        self.assertEqual(problems, [], '%s: server and local Maildir differ:\n  %s'
                         % (what, '\n  '.join(problems[:30])))
        return server, local

    def change_both_sides(self, addr, root, inbox_dir, n_inbox, local_new_folder):
        """Returns what the second sync must bring about."""
        exp = {}
        server = server_state(self.srv, addr)
        inbox = sorted(server['INBOX'])       # markers (order irrelevant, deterministic)
        # -- server side
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (Message-ID)])')
            seq_of = {}
            for n, f in fetches(r).items():
                seq_of[re.search(rb'<(T[0-9a-f]{16})@', f['BODY[HEADER.FIELDS (MESSAGE-ID)]'])
                       .group(1).decode()] = n
            flag_srv = inbox[0:4]
            expunge_srv = inbox[10:16]
            unseen_srv = [m for m in inbox[16:] if '\\Seen' in server['INBOX'][m][0]][:3]
            for m in flag_srv:
                assert_status(self, c.cmd('STORE %d +FLAGS.SILENT (\\Flagged \\Answered)'
                                          % seq_of[m]), 'OK')
            for m in unseen_srv:
                assert_status(self, c.cmd('STORE %d -FLAGS.SILENT (\\Seen)' % seq_of[m]), 'OK')
            assert_status(self, c.cmd('STORE %s +FLAGS.SILENT (\\Deleted)' % ','.join(
                str(seq_of[m]) for m in expunge_srv)), 'OK')
            assert_status(self, c.cmd('EXPUNGE'), 'OK')
            assert_status(self, c.cmd('CREATE "Server New"'), 'OK')
            server_new = []
            for i in range(3):
                mk = token()
                msg = message(mk, subject='server new %d' % i, to=addr)
                r = c.command('APPEND "Server New" (\\Seen) {%d}' % len(msg), msg, '')
                assert_status(self, r, 'OK')
                server_new.append(mk)
        new_smtp = [deliver(self.srv, addr)[0] for _ in range(4)]
        exp['server_flagged'] = flag_srv
        exp['server_unseen'] = unseen_srv
        exp['server_expunged'] = expunge_srv
        exp['server_new_folder'] = server_new
        exp['smtp_new'] = new_smtp
        # -- local side
        files = {marker_of(open(p, 'rb').read()): p for p in maildir_files(inbox_dir)}
        untouched = [m for m in inbox if m not in flag_srv + unseen_srv + expunge_srv]
        delete_local = untouched[0:5]
        flag_local = untouched[5:10]
        trash_local = untouched[10:12]
        for m in delete_local:
            os.unlink(files[m])
        for m in flag_local:
            set_local_flags(files[m], 'RS')
        for m in trash_local:
            set_local_flags(files[m], 'ST')
        local_new = []
        for i in range(2):
            mk = token()
            new_local_message(inbox_dir, mk, 'local new %d' % i)
            local_new.append(mk)
        folder_new = []
        for i in range(2):
            mk = token()
            new_local_message(os.path.join(root, local_new_folder), mk, 'local folder %d' % i,
                              flags='S')
            folder_new.append(mk)
        exp.update(local_deleted=delete_local, local_flagged=flag_local,
                   local_trashed=trash_local, local_new=local_new, local_folder=folder_new)
        return exp

    # mbsync expunges a message marked T (trashed) locally; offlineimap only sets \Deleted.
    TRASH_EXPUNGED = True

    def check_changes(self, server, exp, n_inbox, local_new_folder):
        inbox = server['INBOX']
        problems = []
        for m in exp['server_flagged']:
            if m not in inbox or not {'\\Flagged', '\\Answered'} <= inbox[m][0]:
                problems.append('server flag change lost: %s' % m)
        for m in exp['server_unseen']:
            if m not in inbox or '\\Seen' in inbox[m][0]:
                problems.append('server -\\Seen lost: %s' % m)
        gone = exp['server_expunged'] + exp['local_deleted']
        if self.TRASH_EXPUNGED:
            gone = gone + exp['local_trashed']
        else:
            for m in exp['local_trashed']:
                if m not in inbox or '\\Deleted' not in inbox[m][0]:
                    problems.append('local T flag is not \\Deleted on the server: %s' % m)
        for m in gone:
            if m in inbox:
                problems.append('a deleted message came back: %s %s' % (m, sorted(inbox[m][0])))
        for m in exp['local_flagged']:
            if m not in inbox or inbox[m][0] != {'\\Answered', '\\Seen'}:
                problems.append('local flag change not on the server: %s %s'
                                % (m, sorted(inbox[m][0]) if m in inbox else 'missing'))
        for m in exp['smtp_new'] + exp['local_new']:
            if m not in inbox:
                problems.append('new message missing: %s' % m)
        if sorted(server.get('Server New', {})) != sorted(exp['server_new_folder']):
            problems.append('Server New: %r' % sorted(server.get('Server New', {})))
        if sorted(server.get(local_new_folder, {})) != sorted(exp['local_folder']):
            problems.append('%s on the server: %r' % (local_new_folder,
                                                      sorted(server.get(local_new_folder, {}))))
        want = n_inbox - 6 - 5 + 4 + 2 - (2 if self.TRASH_EXPUNGED else 0)
        if len(inbox) != want:
            problems.append('INBOX has %d messages, expected %d' % (len(inbox), want))
        self.assertEqual(problems, [], 'after the second sync:\n  ' + '\n  '.join(problems))


class ImapMbsync(TwoWaySync, ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct('mbsync')])
    N = 1000
    FOLDERS = {'Work': 20, 'Work/Reports': 5, 'Archive': 10}
    NORMALIZE = staticmethod(untuid)

    @classmethod
    def setUpClass(cls):
        cls.mbsync = ensure_debian_package('mbsync', 'isync')
        if not cls.mbsync:
            raise AssertionError('mbsync is not installed and apt-get install isync failed')
        super().setUpClass()

    def write_rc(self, d, root):
        rc = os.path.join(d, 'mbsyncrc')
        cert = os.path.join(d, 'cert.pem')
        shutil.copy(os.path.join(self.srv.data, 'tls', 'cert.pem'), cert)
        with open(rc, 'w') as f:
            # FSync no: the local disk's fsync is not what is timed here.
            f.write('FSync no\n\nIMAPAccount yubin\nHost 127.0.0.1\nPort %d\nUser %s\nPass "%s"\n'
                    'SSLType IMAPS\nCertificateFile %s\nTimeout 30\nPipelineDepth 50\n\n'
                    'IMAPStore far\nAccount yubin\n\n'
                    'MaildirStore near\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n'
                    'Channel all\nFar :far:\nNear :near:\nPatterns *\nCreate Both\n'
                    'Expunge Both\nSyncState *\nCopyArrivalDate yes\n'
                    % (self.srv.imaps_port, acct('mbsync'), DEFAULT_PASSWORD, cert, root, root))
        return rc

    def sync(self, rc, what):
        try:
            code, log, secs = run([self.mbsync, '-c', rc, '-a', '-V'], timeout=60)
        except subprocess.TimeoutExpired as e:
            out = (e.output or b'').decode(errors='replace')
            raise AssertionError('mbsync %s did not finish within 60 s (a few seconds is '
                                 'normal); its last words:\n%s' % (what, tail(out)))
        print('     mbsync %s: exit %d in %.1f s' % (what, code, secs), flush=True)
        self.assertEqual(code, 0, 'mbsync %s exit %d:\n%s' % (what, code, tail(log)))
        self.assertNotRegex(log, r'(?i)\bIMAP error|unexpected|protocol error',
                            'mbsync %s complained:\n%s' % (what, tail(log)))
        return log

    def test_two_way_sync(self):
        addr = acct('mbsync')
        stored = self.populate(addr, self.N, self.FOLDERS)
        self.assertEqual(len(stored), self.N)
        d = tempfile.mkdtemp(prefix='mbsync-', dir=self.srv.parent)
        root = os.path.join(d, 'mail')
        os.mkdir(root)
        rc = self.write_rc(d, root)
        self.sync(rc, 'first sync')
        server, local = self.assert_in_sync(addr, root, 'after the first sync')
        self.assertEqual(len(local['INBOX']), self.N)
        self.assertEqual(sorted(local), sorted(['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent',
                                                'Trash', 'Work', 'Work/Reports']))
        # Delivered bytes (as stored) are what mbsync wrote (with LF line ends).
        for mk, data in stored.items():
            self.assertEqual(untuid(local['INBOX'][mk][1]), lf(data), 'mbsync got other bytes')
        exp = self.change_both_sides(addr, root, os.path.join(root, 'INBOX'), self.N,
                                     'Local New')
        self.sync(rc, 'second sync')
        server, local = self.assert_in_sync(addr, root, 'after the second sync')
        self.check_changes(server, exp, self.N, 'Local New')
        # A third sync has nothing to do and changes nothing.
        log = self.sync(rc, 'third sync')
        again = server_state(self.srv, addr)
        self.assertEqual(again, server, 'a sync without changes changed the server')
        self.assertNotRegex(log, r'(?m)^(Propagating|Expunging) [1-9]', log)


class ImapOfflineimap(TwoWaySync, ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct('offline'), acct('offssl')])
    N = 60
    FOLDERS = {'Lists': 6, 'Lists/Dev': 4}
    TRASH_EXPUNGED = False

    @classmethod
    def setUpClass(cls):
        cls.offlineimap = ensure_debian_package('offlineimap', 'offlineimap3')
        if not cls.offlineimap:
            raise AssertionError('offlineimap is not installed and apt-get install '
                                 'offlineimap3 failed')
        super().setUpClass()

    def write_rc(self, d, root, addr, tls):
        rc = os.path.join(d, 'offlineimaprc')
        if tls:
            _, fp = cert_fingerprint(self.srv)
            remote = ('remoteport = %d\nssl = yes\ncert_fingerprint = %s\n'
                      % (self.srv.imaps_port, fp))
        else:
            remote = 'remoteport = %d\nssl = no\nstarttls = no\n' % self.srv.imap_port
        with open(rc, 'w') as f:
            f.write('[general]\naccounts = test\nmetadata = %s/meta\nui = basic\n'
                    'socktimeout = 30\n\n'
                    '[Account test]\nlocalrepository = local\nremoterepository = remote\n\n'
                    '[Repository local]\ntype = Maildir\nlocalfolders = %s\nsep = /\n\n'
                    '[Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\n%s'
                    'remoteuser = %s\nremotepass = %s\nsep = /\nmaxconnections = 2\n'
                    'createfolders = True\nexpunge = yes\n'
                    % (d, root, remote, addr, DEFAULT_PASSWORD))
        return rc

    def sync(self, rc, d, what):
        try:
            code, log, secs = run([self.offlineimap, '-c', rc, '-o', '-u', 'basic'],
                                  env=dict(os.environ, HOME=d), timeout=60)
        except subprocess.TimeoutExpired as e:
            out = (e.output or b'').decode(errors='replace')
            raise AssertionError('offlineimap %s did not finish within 60 s; its last words:'
                                 '\n%s' % (what, tail(out)))
        print('     offlineimap %s: exit %d in %.1f s' % (what, code, secs), flush=True)
        self.assertEqual(code, 0, 'offlineimap %s exit %d:\n%s' % (what, code, tail(log)))
        self.assertNotRegex(log, r'(?i)\bERROR\b|Traceback', 'offlineimap %s:\n%s'
                            % (what, tail(log)))
        return log

    def scenario(self, addr, tls):
        stored = self.populate(addr, self.N, self.FOLDERS)
        d = tempfile.mkdtemp(prefix='offlineimap-', dir=self.srv.parent)
        root = os.path.join(d, 'mail')
        os.mkdir(root)
        rc = self.write_rc(d, root, addr, tls)
        self.sync(rc, d, 'first sync')
        server, local = self.assert_in_sync(addr, root, 'after the first sync')
        for mk, data in stored.items():
            self.assertEqual(local['INBOX'][mk][1], lf(data), 'offlineimap got other bytes')
        exp = self.change_both_sides(addr, root, os.path.join(root, 'INBOX'), self.N,
                                     'Local New')
        self.sync(rc, d, 'second sync')
        server, local = self.assert_in_sync(addr, root, 'after the second sync')
        self.check_changes(server, exp, self.N, 'Local New')
        # A third sync has nothing to do and changes nothing.
        self.sync(rc, d, 'third sync')
        self.assertEqual(server_state(self.srv, addr), server,
                         'a sync without changes changed the server')
        self.assertEqual(diff_states(server, local_state(root)), [])

    def test_plain_loopback(self):
        self.scenario(acct('offline'), tls=False)

    def test_tls_fingerprint(self):
        self.scenario(acct('offssl'), tls=True)


class ImapMutt(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct('mutt')])

    @classmethod
    def setUpClass(cls):
        cls.mutt = ensure_debian_package('mutt', 'mutt')
        cls.tmux = ensure_debian_package('tmux', 'tmux')
        if not cls.mutt or not cls.tmux:
            raise AssertionError('mutt or tmux missing and apt-get install failed')
        super().setUpClass()

    def test_read_and_copy(self):
        addr = acct('mutt')
        t = token()
        deliver(self.srv, addr, subject='for mutt',
                body=b'Line one\r\n.dot line\r\n\xe6\x97\xa5\xe6\x9c\xac\r\nmarker ' +
                t.encode() + b'\r\n', marker=t)
        stored = stored_by_marker(self.srv, addr)[t]
        d = tempfile.mkdtemp(prefix='mutt-', dir=self.srv.parent)
        cert = os.path.join(d, 'cert.pem')
        pem, _ = cert_fingerprint(self.srv)
        with open(cert, 'w') as f:
            f.write(pem + '\n')
        out = os.path.join(d, 'piped.eml')
        done = os.path.join(d, 'done')
        rc = os.path.join(d, 'muttrc')
        url = 'imaps://%s@127.0.0.1:%d/' % (addr.replace('@', '%40'), self.srv.imaps_port)
        with open(rc, 'w') as f:
            f.write('set imap_user="%s"\nset imap_pass="%s"\nset folder="%s"\n'
                    'set spoolfile="+INBOX"\nset certificate_file="%s"\n'
                    'set ssl_verify_host=no\nset ssl_force_tls=yes\nset header_cache=""\n'
                    'set message_cachedir=""\nset pipe_decode=no\nset wait_key=no\n'
                    'set confirmappend=no\nset confirmcreate=no\nset quit=yes\nset move=no\n'
                    'set mbox_type=Maildir\nset timeout=5\nset imap_keepalive=30\n'
                    'set sort=date\n'
                    'push "<display-message><exit><pipe-message>cat > %s<enter>'
                    '<copy-message>=Archive<enter><sync-mailbox><quit>"\n'
                    % (addr, DEFAULT_PASSWORD, url, cert, out))
        session = 'yubin-mutt-%d' % os.getpid()
        cmd = '%s -n -F %s; echo $? > %s' % (self.mutt, rc, done)
        env = dict(os.environ, HOME=d, TERM='xterm', LANG='C.UTF-8')
        tmux = [self.tmux, '-L', session]     # a private tmux server, ended with the session
        subprocess.run(tmux + ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', cmd],
                       env=env, check=True, timeout=20)
        screen = ''
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not os.path.exists(done):
                time.sleep(0.3)
            screen = subprocess.run(tmux + ['capture-pane', '-p', '-t', session],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    timeout=10).stdout.decode(
                errors='replace')
        finally:
            subprocess.run(tmux + ['kill-session', '-t', session],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        self.assertTrue(os.path.exists(done), 'mutt did not finish within 40 s; screen:\n'
                        + screen)
        self.assertTrue(os.path.exists(out), 'mutt piped nothing; screen:\n' + screen)
        with open(out, 'rb') as f:
            piped = f.read()
        self.assertEqual(piped, lf(stored), 'mutt piped other bytes than stored')
        copied = stored_by_marker(self.srv, addr, 'Archive')
        self.assertEqual(copied, {t: stored}, 'mutt copy-message to =Archive')
        # mutt displayed the message: it is \Seen now (set by mutt at <sync-mailbox>).
        with logged_in(self.srv, addr) as c:
            r = c.cmd('STATUS INBOX (MESSAGES UNSEEN)')
            self.assertIn('MESSAGES 1 UNSEEN 0', r.lines('STATUS')[0], r)


class ImapFetchmail(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct('fkeep'), acct('fnokeep')])

    @classmethod
    def setUpClass(cls):
        cls.fetchmail = ensure_debian_package('fetchmail', 'fetchmail')
        if not cls.fetchmail:
            raise AssertionError('fetchmail is not installed and apt-get install fetchmail failed')
        super().setUpClass()

    def run_fetchmail(self, user, password, port, options):
        d = tempfile.mkdtemp(prefix='fetchmail-', dir=self.srv.parent)
        out = os.path.join(d, 'out')
        os.mkdir(out)
        rc = os.path.join(d, 'fetchmailrc')
        with open(rc, 'w') as f:
            f.write('set no syslog\nset invisible\n'
                    'poll 127.0.0.1 protocol IMAP port %d auth password timeout 20\n'
                    '  user "%s" there with password "%s" is root here\n'
                    '  options no stripcr no forcecr norewrite fetchall %s\n'
                    '  mda "/bin/sh -c \'cat > $(mktemp %s/msg.XXXXXXXX)\'"\n'
                    % (port, user, password, options, out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=d, FETCHMAILHOME=d, FETCHMAILUSER='root')
        code, log, _ = run([self.fetchmail, '-f', rc, '-i', os.path.join(d, 'idfile'),
                            '--pidfile', os.path.join(d, 'pid'), '-v', '--nosyslog'],
                           env=env, timeout=60)
        msgs = []
        for path in sorted(glob.glob(os.path.join(out, 'msg.*'))):
            with open(path, 'rb') as f:
                msgs.append(f.read())
        return code, log, msgs

    def check(self, addr, msgs, log, stored):
        got = {marker_of(m): m for m in msgs}
        self.assertEqual(sorted(got), sorted(stored), 'fetchmail got other messages:\n' + log)
        for mk, data in got.items():
            self.assertEqual(data, stored[mk], 'fetchmail delivered other bytes than stored:\n'
                             + tail(log))

    def test_keep_ssl(self):
        addr = acct('fkeep')
        t = token()
        deliver(self.srv, addr)
        deliver(self.srv, addr, marker=t, body=b'.leading dot\r\n..two\r\n.\r\nmarker ' +
                t.encode() + b'\r\n')
        stored = stored_by_marker(self.srv, addr)
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.imaps_port,
                                             'keep ssl no sslcertck')
        self.assertEqual(code, 0, 'fetchmail exit %d:\n%s' % (code, tail(log)))
        self.assertRegex(log, r'(?i)IMAP4rev1|IMAP', log)
        self.check(addr, msgs, log, stored)
        self.assertEqual(stored_by_marker(self.srv, addr), stored, 'keep: messages changed')
        # keep + fetchall: again the same two.
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.imaps_port,
                                             'keep ssl no sslcertck')
        self.assertEqual(code, 0, log)
        self.check(addr, msgs, log, stored)

    def test_nokeep_starttls(self):
        addr = acct('fnokeep')
        for _ in range(3):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.imap_port,
                                             'nokeep sslproto "tls1.2+" no sslcertck')
        self.assertEqual(code, 0, 'fetchmail exit %d:\n%s' % (code, tail(log)))
        self.assertRegex(log, r'STARTTLS', 'fetchmail did not use STARTTLS:\n' + tail(log))
        self.check(addr, msgs, log, stored)
        self.assertEqual(stored_by_marker(self.srv, addr), {}, 'nokeep: messages still there')
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.imap_port,
                                             'nokeep sslproto "tls1.2+" no sslcertck')
        self.assertEqual(code, 1, 'second run: expected exit 1 (no mail):\n' + tail(log))
        self.assertEqual(msgs, [])


if __name__ == '__main__':
    unittest.main()
