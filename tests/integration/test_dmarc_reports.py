"""DMARC aggregate reports: reports other providers send to dmarc-reports@ are delivered, read
on the report worker and summed up by `yubin report dmarc`; the reports we send
(dmarc-reports = on) are built from observations, gzip'd and queued, and parse back with
Python's own XML parser."""

import email
import email.policy
import gzip
import io
import os
import smtplib
import sys
import time
import unittest
import zipfile
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, token  # noqa

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


if __name__ == '__main__':
    unittest.main()
