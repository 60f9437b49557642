#!/usr/bin/python3
"""At service start each pipeline is checked against its inbound bucket's notification filter
(issue 10, "Warn about unreachable pipelines"). The world's bucket notifies the queue for
suffix .csv and .csv.gz (tests/world/worldctl.py): a pipeline for .tsv files is never
notified and gets a WARNING; the .csv pipeline gets none; a filter that is not known (the
bucket notifies another queue only, or GetBucketNotificationConfiguration is denied) is a
debug line only. The daemon becomes ready in every case."""
import copy
import os
import re
import unittest

from daemonlib import NotifySocket, wait_until, World

NEVER = 'is never notified'


class NotificationFilter(unittest.TestCase):
        def setUp(self):
                self.w = World().__enter__()
                self.addCleanup(self.w.__exit__, None, None, None)

        def config(self, **overrides):
                """The world's config plus a tab-separated pipeline on the same bucket."""
                students = self.w.daemon_config()['pipelines'][0]
                tsv = copy.deepcopy(students)
                tsv.update(name='tabs', match={'bucket': self.w.inbound, 'prefix': '', 'suffix': '.tsv'})
                tsv['csv']['delimiter'] = '\t'
                return self.w.make_daemon_config(log_level='debug', pipelines=[students, tsv],
                                                 **overrides)

        def start_until_ready(self, path):
                """Starts the daemon, waits for READY=1, stops it; returns its log."""
                w = self.w
                ns = NotifySocket(os.path.join(w.dir, f'notify-{len(os.listdir(w.dir))}.sock'))
                self.addCleanup(ns.close)
                start = len(w.daemon_log())
                w.start_daemon(path, env=dict(w.daemon_env(), NOTIFY_SOCKET=ns.path))
                try:
                        wait_until(lambda: 'READY=1' in ns.lines(), 30, 'sd_notify READY=1', world=w)
                finally:
                        self.assertEqual(w.stop_daemon(), 0, w.daemon_log()[-3000:])
                return w.daemon_log()[start:]

        def warnings(self, log):
                return [line for line in log.splitlines() if NEVER in line]

        def test_tsv_pipeline_warned_csv_pipeline_not(self):
                log = self.start_until_ready(self.config())
                warned = self.warnings(log)
                self.assertEqual(len(warned), 1, log[-3000:])
                line = warned[0]
                self.assertIn('WARNING', line)
                self.assertRegex(line, r'Pipeline tabs \(suffix \.tsv or \.tsv\.gz\) is never notified')
                self.assertIn(self.w.inbound, line)
                # the filters the bucket really has, from GetBucketNotificationConfiguration
                self.assertIn('suffix .csv; suffix .csv.gz', line)
                self.assertNotIn('Pipeline students', log)

        def test_notification_to_another_queue_only_is_not_known(self):
                w = self.w
                other = w.sqs.create_queue(QueueName='someone-elses-queue')['QueueUrl']
                arn = w.sqs.get_queue_attributes(QueueUrl=other, AttributeNames=['QueueArn'])
                w.s3.put_bucket_notification_configuration(
                        Bucket=w.inbound,
                        NotificationConfiguration={'QueueConfigurations': [{
                                'Id': 'elsewhere', 'QueueArn': arn['Attributes']['QueueArn'],
                                'Events': ['s3:ObjectCreated:*'],
                                'Filter': {'Key': {'FilterRules': [{'Name': 'suffix', 'Value': '.xml'}]}}}]})
                got = w.s3.get_bucket_notification_configuration(Bucket=w.inbound)
                self.assertEqual(len(got.get('QueueConfigurations', [])), 1, got)
                log = self.start_until_ready(self.config())
                self.assertEqual(self.warnings(log), [], log[-3000:])
                self.assertRegex(log, rf'Bucket {re.escape(w.inbound)} sends no notification to queue '
                                 r'\S+ itself \(1 to other queues.*notification filter not known')

        def test_access_denied_is_not_known(self):
                w = self.w
                proxy = w.start_fault_proxy('s3')
                proxy.add('status', {'method': 'GET', 'path': r'\?notification'}, status=403,
                          headers={'Content-Type': 'application/xml'},
                          body='<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                               '<Message>Access Denied</Message><RequestId>0</RequestId>'
                               '<HostId>0</HostId></Error>', times=-1)
                log = self.start_until_ready(self.config(aws={'endpoints': {'s3': proxy.url}}))
                self.assertEqual(self.warnings(log), [], log[-3000:])
                self.assertRegex(log, rf'Bucket {re.escape(w.inbound)}: notification filter not known '
                                 r'\(.*Access ?Denied')
                fired = [f for f in proxy.stats()['faults'] if f['fired'] > 0]
                self.assertTrue(fired, 'the daemon never asked for the notification configuration')


if __name__ == '__main__':
        unittest.main(verbosity=2)
