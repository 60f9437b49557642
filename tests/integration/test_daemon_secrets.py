#!/usr/bin/python3
"""Invariant 6: secrets never reach a log line, an SNS message, an error report or a metrics
label. The daemon runs at debug level with a distinctive secret key and session token, loads
a good file and two failing ones (a rejected row, a wrong header), and everything it produced
is searched for them. The servers do not check signatures, so any secret is accepted."""
import os
import unittest

from daemonlib import REFERENCE_CSV, World, run_main, wait_until

SECRET = 'sEcReT/kEy+ThAt-mUsT-nEvEr-bE-sEeN-0123456789'
TOKEN = 'SeSsIoN-ToKeN-' + 'x7Q' * 40


class Secrets(unittest.TestCase):
        def test_no_secret_in_any_output(self):
                with World() as w:
                        metrics = os.path.join(w.dir, 'metrics.prom')
                        cfg = w.make_daemon_config(log_level='debug', metrics_file=metrics)
                        env = w.daemon_env()
                        env['AWS_SECRET_ACCESS_KEY'] = SECRET
                        env['AWS_SESSION_TOKEN'] = TOKEN
                        w.start_daemon(cfg, env=env)
                        w.upload('good.csv', REFERENCE_CSV)
                        w.upload('bad-row.csv', REFERENCE_CSV + 'not-an-id,X,Y,CS101\n')
                        w.upload('bad-header.csv', 'id,name\n1,2\n')
                        sns = w.read_sns_messages(expect=3, timeout=60)
                        self.assertEqual(sorted(m['Message']['status'] for m in sns),
                                         ['FAILURE', 'FAILURE', 'SUCCESS'])
                        wait_until(lambda: os.path.exists(metrics), what='metrics file', world=w)
                        self.assertEqual(w.stop_daemon(), 0)

                        with open(metrics) as f:
                                outputs = {'daemon log': w.daemon_log(), 'metrics': f.read()}
                        for m in sns:
                                outputs['SNS ' + m['Subject']] = m['MessageText'] + m['Subject']
                        for key in w.list_keys(w.errors):
                                outputs['error bucket ' + key] = w.read_object(w.errors, key).decode()
                        # the search is only worth something if there is something to search
                        self.assertIn('bad-row.csv.error.json', ' '.join(outputs))
                        self.assertIn('good.csv', outputs['daemon log'])
                        self.assertGreater(len(outputs['daemon log']), 500)
                        for what, text in outputs.items():
                                for secret in (SECRET, TOKEN, TOKEN[:24]):
                                        self.assertNotIn(secret, text, f'secret in {what}')


if __name__ == '__main__':
        run_main()
