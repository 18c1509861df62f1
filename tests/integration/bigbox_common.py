"""Filling one mailbox with tens of thousands of small messages, fast: parallel SMTP sessions,
each pipelining whole transactions (MAIL, RCPT, BDAT LAST: nothing to wait for between them,
RFC 2920 and 3030), batches of them per write. A 250 means on disk, so the server group-commits
the sessions' messages; 20,000 messages take a few seconds."""

import socket
import threading

BATCH = 200


def _msg(k, to):
    return ('From: filler%d@remote.test\r\nTo: %s\r\nSubject: small %d\r\n'
            'Message-ID: <fill%d@remote.test>\r\n\r\nmessage %d\r\n' % (k, to, k, k, k)).encode()


def _session(port, to, ks, errors, timeout):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    buf = [b'']

    def reply():
        while True:
            i = buf[0].find(b'\n')
            if i >= 0:
                line, buf[0] = buf[0][:i + 1], buf[0][i + 1:]
                if line[3:4] != b'-':
                    return int(line[:3]), line
                continue
            d = s.recv(1 << 16)
            if not d:
                raise ConnectionError('connection closed')
            buf[0] += d

    try:
        reply()
        s.sendall(b'EHLO filler.remote.test\r\n')
        reply()
        for i in range(0, len(ks), BATCH):
            out = []
            part = ks[i:i + BATCH]
            for k in part:
                m = _msg(k, to)
                out.append(b'MAIL FROM:<filler@remote.test>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n'
                           % (to.encode(), len(m)) + m)
            s.sendall(b''.join(out))
            for k in part:
                for _ in range(3):
                    code, line = reply()
                    if code != 250:
                        raise RuntimeError('message %d: %r' % (k, line))
        s.sendall(b'QUIT\r\n')
        reply()
    except Exception as e:  # reported by fill()
        errors.append('%s: %s' % (type(e).__name__, e))
    finally:
        s.close()


def fill(port, to, n, sessions=8, timeout=120):
    """Deliver n small messages to `to` (subjects "small 0" .. "small n-1", in no set order)."""
    errors, threads = [], []
    ks = list(range(n))
    for i in range(sessions):
        t = threading.Thread(target=_session, daemon=True,
                             args=(port, to, ks[i::sessions], errors, timeout))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout)
    if errors or any(t.is_alive() for t in threads):
        raise RuntimeError('fill failed: %s' % (errors[:1] or 'timeout'))
