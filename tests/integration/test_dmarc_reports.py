"""DMARC aggregate reports: reports other providers send to dmarc-reports@ are delivered, read
on the report worker and summed up by `yubin report dmarc`; the reports we send
(dmarc-reports = on) are built from observations, gzip'd and queued, and parse back with
Python's own XML parser."""

import email
import email.policy
import gzip
import io
import os
import socket
import sqlite3
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
import zipfile
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, ensure_debian_package, token  # noqa

DNS_ADDR = '127.0.0.57'

ALICE = 'alice@example.test'
REPORTS = 'dmarc-reports@example.test'


def feedback(report_id, records, org='google.com', domain='example.test', begin=None):
    begin = begin or int(time.time()) - 86400
    rows = ''
    for ip, count, dkim, spf, disp in records:
        rows += ('<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>'
                 '<disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated>'
                 '</row><identifiers><header_from>%s</header_from></identifiers><auth_results>'
                 '<spf><domain>%s</domain><result>%s</result></spf></auth_results></record>\n'
                 % (ip, count, disp, dkim, spf, domain, domain, 'pass' if spf == 'pass' else 'fail'))
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<feedback><report_metadata>'
            '<org_name>%s</org_name><email>noreply@%s</email><report_id>%s</report_id>'
            '<date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>'
            '<policy_published><domain>%s</domain><p>none</p><pct>100</pct></policy_published>\n'
            '%s</feedback>\n' % (org, org, report_id, begin, begin + 86399, domain, rows)).encode()


def report_message(attachment, filename, ctype, org='google.com'):
    m = EmailMessage()
    m['From'] = 'noreply-dmarc-support@' + org
    m['To'] = REPORTS
    m['Subject'] = 'Report domain: example.test Submitter: ' + org
    m['Message-ID'] = '<%s@%s>' % (token(), org)
    m.set_content('This is an aggregate report from %s.' % org)
    maintype, subtype = ctype.split('/')
    m.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes(policy=email.policy.SMTP)


def zipped(name, data):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return b.getvalue()


class DmarcReportsReceived(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def send(self, msg, rcpt=REPORTS):
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            self.assertEqual(s.sendmail('noreply@google.com', [rcpt], msg), {})

    def wait_log(self, needle, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.srv.log_text().count(needle) >= count:
                return
            time.sleep(0.05)
        self.fail('no %r in the log:\n%s' % (needle, self.srv.log_tail()))

    def report(self, *args):
        cp = self.srv.run('report', 'dmarc', *args)
        return cp.stdout.decode()

    def test_1_alias_made_for_first_account(self):
        out = self.srv.run('alias', 'list').stdout.decode()
        self.assertIn(REPORTS, out)
        self.assertIn(ALICE, out)

    def test_2_reports_in_every_format(self):
        self.assertIn('No DMARC aggregate reports', self.report())
        xml1 = feedback('g-1', [('203.0.113.5', 120, 'fail', 'fail', 'none'),
                                ('192.0.2.25', 40, 'pass', 'pass', 'none')])
        xml2 = feedback('m-1', [('203.0.113.5', 7, 'fail', 'fail', 'quarantine'),
                                ('198.51.100.9', 3, 'pass', 'fail', 'none')],
                        org='outlook.com')
        xml3 = feedback('y-1', [('192.0.2.25', 5, 'pass', 'pass', 'none')], org='yahoo.com')
        self.send(report_message(gzip.compress(xml1), 'google.com!example.test!1!2.xml.gz',
                                 'application/gzip'))
        self.send(report_message(zipped('outlook.com!example.test!1!2.xml', xml2),
                                 'outlook.com!example.test!1!2.zip', 'application/zip',
                                 org='outlook.com'))
        self.send(report_message(xml3, 'report.xml', 'text/xml', org='yahoo.com'))
        self.wait_log('event=dmarc-report-stored', 3)
        # delivered normally too: the alias leads to alice
        self.assertEqual(len(self.srv.export_maildir(ALICE)), 3)
        out = self.report()
        self.assertIn('example.test', out)
        self.assertIn('203.0.113.5: 127 messages', out)
        self.assertIn('192.0.2.25: 45 messages', out)
        self.assertIn('198.51.100.9: 3 messages', out)
        self.assertIn('203.0.113.5 sent 127 messages as example.test that failed both SPF and '
                      'DKIM: if this is your web form or newsletter service, add it to your SPF '
                      'record or have it sign with DKIM; if not, someone is forging your domain',
                      out)
        self.assertNotIn('192.0.2.25 sent', out)
        self.assertIn('7 quarantined', out)
        self.assertIn('google.com', out)
        self.assertIn('outlook.com', out)
        # filters: another domain has nothing; a window before the reports has nothing
        self.assertIn('No DMARC aggregate reports about other.test',
                      self.report('--domain', 'other.test'))
        self.assertIn('203.0.113.5', self.report('--domain', 'example.test', '--since', '3d'))
        self.assertIn('No DMARC', self.report('--since', '2099-01-01'))
        bad = self.srv.run('report', 'dmarc', '--since', 'yesterday', check=False)
        self.assertEqual(bad.returncode, 2)
        # the same report again is not counted twice
        self.send(report_message(gzip.compress(xml1), 'again.xml.gz', 'application/gzip'))
        self.wait_log('event=dmarc-report-not-stored', 1)
        self.assertIn('203.0.113.5: 127 messages', self.report())

    def test_3_bombs_and_junk_are_refused_and_logged(self):
        bomb = gzip.compress(b'<' * (64 << 20), 1)
        self.send(report_message(bomb, 'bomb.xml.gz', 'application/gzip'))
        self.send(report_message(zipped('z.xml', b' ' * (64 << 20)), 'z.zip', 'application/zip'))
        self.send(report_message(b'<feedback><oops></feedback>', 'r.xml', 'text/xml'))
        self.wait_log('event=dmarc-report-unreadable', 3)
        log = self.srv.log_text()
        self.assertEqual(log.count('larger than 20971520 bytes'), 2)
        self.assertIn('malformed', log)
        self.assertNotIn('slow-turn', log)
        # mail to other addresses is never read as a report
        self.send(report_message(gzip.compress(feedback('x-9', [('192.0.2.1', 1, 'fail', 'fail',
                                                                 'none')])),
                                 'x.xml.gz', 'application/gzip'), rcpt=ALICE)
        time.sleep(0.5)
        self.assertNotIn('report_id=x-9', self.srv.log_text())


OBS_COLUMNS = ('domain', 'day', 'source_ip', 'header_from', 'envelope_from', 'disposition',
               'dkim', 'spf', 'dkim_domain', 'dkim_selector', 'dkim_result', 'spf_domain',
               'spf_scope', 'spf_result', 'p', 'sp', 'adkim', 'aspf', 'pct', 'rua', 'count',
               'first', 'last')


def observe(data_dir, domain, when, ip, count, dkim, spf, rua, disposition='none'):
    """Rows as dmarc_observe() writes them (the inbound DMARC check that calls it is wired by
    the lead; these stand in for the messages it will count)."""
    db = sqlite3.connect(os.path.join(data_dir, 'store.db'), timeout=10)
    row = dict(domain=domain, day=when // 86400, source_ip=ip, header_from=domain,
               envelope_from=domain, disposition=disposition, dkim=dkim, spf=spf,
               dkim_domain=domain if dkim == 'pass' else '', dkim_selector='s1' if dkim == 'pass'
               else '', dkim_result=dkim if dkim == 'pass' else 'none', spf_domain=domain,
               spf_scope='mfrom', spf_result=spf, p='quarantine', sp='quarantine', adkim='r',
               aspf='r', pct=100, rua=rua, count=count, first=when, last=when)
    db.execute('INSERT INTO dmarc_observed(%s) VALUES(%s)' % (
        ','.join(OBS_COLUMNS), ','.join('?' * len(OBS_COLUMNS))), [row[c] for c in OBS_COLUMNS])
    db.commit()
    db.close()


def queued_reports(data_dir):
    """{queue domain: (recipients, message bytes)} read from the store."""
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(data_dir, 'store.db'), uri=True,
                         timeout=10)
    out = {}
    for qid, dom, data in db.execute('SELECT q.id, q.domain, b.data FROM queue q JOIN blobs b'
                                     ' ON b.id = q.blob_id'):
        rcpts = sorted(r for (r,) in db.execute('SELECT rcpt FROM queue_rcpt WHERE queue_id = ?',
                                                (qid,)))
        out[dom] = (rcpts, bytes(data))
    db.close()
    return out


def report_xml(message):
    """The gzip attachment of a report message, decompressed, parsed by xml.etree."""
    m = email.message_from_bytes(message, policy=email.policy.default)
    atts = [p for p in m.walk() if p.get_content_type() == 'application/gzip']
    assert len(atts) == 1, [p.get_content_type() for p in m.walk()]
    name = atts[0].get_filename()
    return m, name, ET.fromstring(gzip.decompress(atts[0].get_payload(decode=True)))


YESTERDAY = int(time.time()) - 86400


def setup_sending(srv):
    # a complete day not yet reported: the server sends it when it starts
    observe(srv.data, 'old.test', YESTERDAY, '192.0.2.10', 4, 'pass', 'pass',
            'mailto:agg@old.test')
    observe(srv.data, 'old.test', YESTERDAY, '203.0.113.66', 2, 'fail', 'fail',
            'mailto:agg@old.test', disposition='quarantine')


class DmarcReportsSent(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'dmarc-reports': 'on'}, setup=setup_sending)

    def wait_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.srv.log_text():
                return
            time.sleep(0.05)
        self.fail('no %r in the log:\n%s' % (needle, self.srv.log_tail()))

    def test_1_server_sends_yesterdays_report(self):
        self.wait_log('event=dmarc-report-queued domain=old.test')
        q = queued_reports(self.srv.data)
        self.assertIn('old.test', q)
        rcpts, msg = q['old.test']
        self.assertEqual(rcpts, ['agg@old.test'])
        m, name, root = report_xml(msg)
        self.assertEqual(m['From'], 'dmarc-reports@example.test')
        self.assertTrue(m['Subject'].startswith('Report Domain: old.test Submitter: '
                                                'mail.example.test Report-ID: <'), m['Subject'])
        self.assertTrue(name.startswith('mail.example.test!old.test!') and
                        name.endswith('.xml.gz'), name)
        self.assertEqual(root.tag, 'feedback')
        self.assertEqual(root.findtext('report_metadata/org_name'), 'mail.example.test')
        self.assertEqual(root.findtext('policy_published/domain'), 'old.test')
        self.assertEqual(root.findtext('policy_published/p'), 'quarantine')
        recs = {r.findtext('row/source_ip'): r for r in root.findall('record')}
        self.assertEqual(sorted(recs), ['192.0.2.10', '203.0.113.66'])
        self.assertEqual(recs['192.0.2.10'].findtext('row/count'), '4')
        self.assertEqual(recs['192.0.2.10'].findtext('auth_results/dkim/selector'), 's1')
        self.assertEqual(recs['203.0.113.66'].findtext('row/policy_evaluated/disposition'),
                         'quarantine')
        self.assertEqual(recs['203.0.113.66'].findtext('row/policy_evaluated/dkim'), 'fail')
        # our own reader takes our own report: send it to our dmarc-reports@
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            s.sendmail('dmarc-reports@example.test', [REPORTS], msg)
        self.wait_log('event=dmarc-report-stored org=mail.example.test')
        out = self.srv.run('report', 'dmarc', '--domain', 'old.test').stdout.decode()
        self.assertIn('192.0.2.10: 4 messages', out)
        self.assertIn('203.0.113.66 sent 2 messages as old.test that failed both', out)
        # observations are gone once reported; a restart does not send it again
        db = sqlite3.connect(os.path.join(self.srv.data, 'store.db'), timeout=10)
        self.assertEqual(db.execute("SELECT COUNT(*) FROM dmarc_observed WHERE domain ="
                                    " 'old.test'").fetchone()[0], 0)
        db.close()

    def test_2_send_now_checks_destinations_and_sizes(self):
        dnsmasq = ensure_debian_package('dnsmasq', 'dnsmasq-base')
        self.assertTrue(dnsmasq, 'dnsmasq is needed')
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((DNS_ADDR, 0))
        port = s.getsockname()[1]
        s.close()
        tmp = tempfile.mkdtemp(prefix='yubin-dmarc-dns-')
        dns = subprocess.Popen([dnsmasq, '--keep-in-foreground', '--conf-file=/dev/null',
                                '--no-resolv', '--no-hosts', '--no-negcache',
                                '--port=%d' % port, '--listen-address=' + DNS_ADDR,
                                '--bind-interfaces', '--pid-file=', '--local=/test/',
                                '--txt-record=sender.test._report._dmarc.reports.test,v=DMARC1',
                                '--log-facility=' + os.path.join(tmp, 'dnsmasq.log')],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        try:
            self.srv.stop()
            now = int(time.time())
            rua = ('mailto:agg@sender.test,mailto:ext@reports.test,mailto:nope@noverify.test,'
                   'mailto:small@sender.test!1k,https://x.test/')
            for i in range(30):
                observe(self.srv.data, 'sender.test', now, '198.51.100.%d' % i, i + 1,
                        'pass' if i % 3 else 'fail', 'pass' if i % 2 else 'fail', rua)
            conf = os.path.join(self.srv.data, 'yubin.conf')
            with open(conf, 'a') as f:
                f.write('resolver = %s@%d\n' % (DNS_ADDR, port))
            t0 = time.monotonic()
            cp = self.srv.run('report', 'dmarc', '--send-now', check=False)
            out, err = cp.stdout.decode(), cp.stderr.decode()
            self.assertEqual(cp.returncode, 0, out + err)
            self.assertLess(time.monotonic() - t0, 15)
            self.assertIn('1 queued', out)
            self.assertIn('to=nope@noverify.test reason="its domain did not agree', err)
            self.assertIn('to=small@sender.test reason="the report is larger than', err)
            q = queued_reports(self.srv.data)
            self.assertEqual(q['sender.test'][0], ['agg@sender.test'])
            self.assertEqual(q['reports.test'][0], ['ext@reports.test'])
            self.assertNotIn('noverify.test', q)
            self.assertEqual(q['sender.test'][1], q['reports.test'][1])  # one message
            m, name, root = report_xml(q['sender.test'][1])
            self.assertEqual(m['To'], 'agg@sender.test, ext@reports.test')
            counts = sorted(int(r.findtext('row/count')) for r in root.findall('record'))
            self.assertEqual(counts, list(range(1, 31)))
            # at most one report per domain per day
            observe(self.srv.data, 'sender.test', now, '198.51.100.200', 1, 'pass', 'pass', rua)
            cp = self.srv.run('report', 'dmarc', '--send-now')
            self.assertIn('0 queued', cp.stdout.decode())
        finally:
            dns.terminate()
            dns.wait(5)
            with open(os.path.join(self.srv.data, 'yubin.conf'), 'a') as f:
                f.write('resolver = 127.0.0.1@9\n')


if __name__ == '__main__':
    unittest.main()
