#!/usr/bin/python3
"""The daemon's process life: sd_notify, SIGTERM mid-file and restart, SIGHUP reloads,
workers: 1, the visibility heartbeat on a slow file, and giving up after max_receive_count.
Slowness comes from the fault proxy delaying DynamoDB (or S3) requests."""
import json
import os
import re
import signal
import time
import unittest

from daemonlib import HEADER, items_by_key, NotifySocket, rows, run_main, wait_until, World




class DaemonLife(unittest.TestCase):
        def setUp(self):
                self.w = World().__enter__()
                self.addCleanup(self.w.__exit__, None, None, None)

        def processed_keys(self):
                """Keys in 'Processing' debug lines, in order (needs log_level: debug)."""
                return re.findall(r'Processing s3://\S+?/(\S+)', self.w.daemon_log())

        def test_sd_notify_sighup_and_sigterm(self):
                w = self.w
                ns = NotifySocket(os.path.join(w.dir, 'notify.sock'))
                self.addCleanup(ns.close)
                metrics = os.path.join(w.dir, 'metrics.prom')
                good = w.daemon_config(metrics_file=metrics)
                path = w.make_daemon_config(metrics_file=metrics)
                env = dict(w.daemon_env(), NOTIFY_SOCKET=ns.path, WATCHDOG_USEC='1000000')
                proc = w.start_daemon(path, env=env)
                ns.wait_for('READY=1')
                ns.wait_for('WATCHDOG=1', timeout=5)
                self.assertTrue(any(l.startswith('STATUS=') for l in ns.lines()), ns.lines())

                # a partial file fails with max_rejected_rows: 0 ...
                bad_row = HEADER + 'A00001,Ok,Row,H1\nBAD,Bad,Row,H1\n'
                w.upload('hup/1.csv', bad_row)
                w.wait_for_queue_empty()
                self.assertIn('hup/1.csv.error.json', w.list_keys(w.errors))

                # ... a valid reload allows one reject: the same file is now partial
                good['pipelines'][0]['max_rejected_rows'] = 1
                import yaml
                with open(path, 'w') as f:
                        yaml.safe_dump(good, f, sort_keys=False)
                ns.clear()
                proc.send_signal(signal.SIGHUP)
                ns.wait_for('RELOADING=1')
                ns.wait_for('READY=1')
                wait_until(lambda: 'Reloaded' in w.daemon_log(), 10, 'reload logged')
                w.upload('hup/2.csv', bad_row)
                w.wait_for_queue_empty()
                self.assertIn('hup/2.csv', w.list_keys(w.archive))
                self.assertIn('hup/2.csv.rejected.csv', w.list_keys(w.errors))

                # an invalid file is refused and the running configuration kept
                with open(path, 'w') as f:
                        f.write('queue: [this is not\n')
                proc.send_signal(signal.SIGHUP)
                wait_until(lambda: 'keeping the running configuration' in w.daemon_log(), 10,
                           'invalid reload logged')
                w.upload('hup/3.csv', bad_row)
                w.wait_for_queue_empty()
                self.assertIn('hup/3.csv', w.list_keys(w.archive))     # still max_rejected_rows: 1
                w.check_daemon()

                # valid YAML naming a table that does not exist is refused like at startup
                missing = dict(good)
                missing['pipelines'] = [dict(good['pipelines'][0], table='NO_SUCH_TABLE')]
                with open(path, 'w') as f:
                        yaml.safe_dump(missing, f, sort_keys=False)
                proc.send_signal(signal.SIGHUP)
                wait_until(lambda: 'failed (the tables check)' in w.daemon_log(), 10, 'table check logged')
                w.check_daemon()

                # notify.on limits what is published: a partial file is archived silently
                quiet = dict(good, notify=dict(good['notify'], on=['failure']))
                with open(path, 'w') as f:
                        yaml.safe_dump(quiet, f, sort_keys=False)
                drain = w.read_sns_messages(expect=10, timeout=2)
                self.assertEqual([e['Message']['status'] for e in drain], ['FAILURE', 'PARTIAL', 'PARTIAL'])
                proc.send_signal(signal.SIGHUP)
                wait_until(lambda: w.daemon_log().count('Reloaded') == 2, 10, 'second reload')
                w.upload('hup/4.csv', bad_row)
                w.wait_for_queue_empty()
                self.assertIn('hup/4.csv', w.list_keys(w.archive))
                self.assertEqual(w.read_sns_messages(expect=1, timeout=2), [])

                ns.clear()
                self.assertEqual(w.stop_daemon(), 0, w.daemon_log())
                ns.wait_for('STOPPING=1', timeout=5)
                # shutdown_grace 60 + queue.wait_seconds 1 (a cancelled long poll) + 15
                ns.wait_for('EXTEND_TIMEOUT_USEC=76000000', timeout=5)

                # the metrics file is written at exit too
                with open(metrics) as f:
                        text = f.read()
                self.assertIn('s3batchd_files_total{pipeline="students",outcome="failure"} 1\n', text)
                self.assertIn('s3batchd_files_total{pipeline="students",outcome="partial"} 3\n', text)
                self.assertIn('s3batchd_rows_total{pipeline="students",result="written"} 3\n', text)
                self.assertRegex(text, r's3batchd_aws_requests_total\{service="s3",code="OK"\} [1-9]')
                self.assertRegex(text, r's3batchd_aws_requests_total\{service="sqs",code="OK"\} [1-9]')
                self.assertRegex(text, r's3batchd_sqs_messages_total\{result="deleted"\} 4')

        def test_sigterm_mid_file_then_restart(self):
                w = self.w
                proxy = w.start_fault_proxy('dynamodb')
                proxy.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=150, times=-1)
                # a fixed window of 4 (the adaptive one would grow to 32 at this flat latency)
                cfg = w.make_daemon_config(shutdown_grace=0, log_level='debug',
                                           aws={'endpoints': {'dynamodb': proxy.url}},
                                           pipelines=[dict(w.daemon_config()['pipelines'][0], write_concurrency=4)])
                body = rows(1000, 'T1')              # 40 batches, ≥ 1.5 s through the proxy
                proc = w.start_daemon(cfg)
                w.upload('term/big.csv', body)
                wait_until(lambda: proxy.stats()['by_target'].get('DynamoDB_20120810.BatchWriteItem', 0) >= 3,
                           20, 'writing started', w)
                t0 = time.monotonic()
                self.assertEqual(w.stop_daemon(), 0)
                self.assertLess(time.monotonic() - t0, 5, 'SIGTERM must not wait for the file')
                log = w.daemon_log()
                self.assertIn('CANCELLED', log)
                # nothing of the unfinished file moved, and its message is visible again
                self.assertIn('term/big.csv', w.list_keys(w.inbound))
                self.assertNotIn('term/big.csv', w.list_keys(w.archive))
                self.assertEqual(w.queue_depth(), (1, 0), log)
                self.assertEqual(w.read_sns_messages(expect=1, timeout=2), [])
                self.assertLess(len(w.scan_table()), 1000)

                proxy.clear()
                w.start_daemon(cfg)
                w.wait_for_queue_empty(timeout=90)
                items = items_by_key(w)
                self.assertEqual(len(items), 1000)
                self.assertEqual(items[('A00999', 'T1')]['first_name'], 'F999')
                self.assertEqual(w.list_keys(w.archive), ['term/big.csv'])
                sns = w.read_sns_messages(expect=2, timeout=5)
                self.assertEqual([e['Message']['status'] for e in sns], ['SUCCESS'])
                self.assertEqual(sns[0]['Message']['rows_written'], 1000)

        def test_sigint_lets_running_file_finish_a_second_signal_does_not(self):
                w = self.w
                bwi = lambda: proxy.stats()['by_target'].get('DynamoDB_20120810.BatchWriteItem', 0)  # noqa: E731
                proxy = w.start_fault_proxy('dynamodb')
                proxy.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=100, times=-1)
                cfg = w.make_daemon_config(shutdown_grace=60, aws={'endpoints': {'dynamodb': proxy.url}})
                proc = w.start_daemon(cfg)
                w.upload('grace/g.csv', rows(1200, 'G1'))       # 48 batches, 4 at a time: ~1.2 s
                wait_until(lambda: bwi() >= 2, 20, 'writing started', w)
                proc.send_signal(signal.SIGINT)
                self.assertEqual(proc.wait(30), 0)
                self.assertEqual(len(w.scan_table()), 1200)
                self.assertIn('grace/g.csv', w.list_keys(w.archive))
                self.assertEqual(w.queue_depth(), (0, 0))
                w.stop_daemon()

                # a second SIGTERM does not wait for the grace period
                proxy.clear()
                proxy.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=400, times=-1)
                proc = w.start_daemon(cfg)
                w.upload('grace/h.csv', rows(2000, 'G2'))       # 80 batches: ≥ 8 s
                seen = bwi()
                wait_until(lambda: bwi() >= seen + 4, 20, 'writing started', w)
                proc.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(30), 0)
                self.assertLess(time.monotonic() - t0, 5)
                self.assertIn('CANCELLED s3://inbound-file-drop/grace/h.csv', w.daemon_log())
                self.assertIn('grace/h.csv', w.list_keys(w.inbound))
                self.assertEqual(w.queue_depth(), (1, 0))
                w.stop_daemon()

        def test_one_worker_is_strictly_sequential(self):
                w = self.w
                proxy = w.start_fault_proxy('dynamodb')
                proxy.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=50, times=-1)
                cfg = w.make_daemon_config(workers=1, log_level='debug',
                                           aws={'endpoints': {'dynamodb': proxy.url}})
                w.start_daemon(cfg)
                keys = [f'seq/{i}.csv' for i in range(4)]
                for i, k in enumerate(keys):
                        w.upload(k, rows(60, f'S{i}'))
                w.wait_for_queue_empty()
                # each file's outcome line comes before the next file starts
                events = re.findall(r'(Processing|SUCCESS) s3://\S+?/(seq/\d\.csv)', w.daemon_log())
                self.assertEqual(len(events), 8, events)
                for i in range(0, 8, 2):
                        self.assertEqual(events[i][0], 'Processing', events)
                        self.assertEqual(events[i + 1], ('SUCCESS', events[i][1]), events)
                self.assertEqual(sorted(e[1] for e in events[::2]), keys)
                self.assertEqual(len(w.scan_table()), 240)

        def test_heartbeat_keeps_a_slow_file_from_second_delivery(self):
                w = self.w
                proxy = w.start_fault_proxy('dynamodb')
                proxy.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=1000, times=-1)
                cfg = w.make_daemon_config(workers=2, log_level='debug',
                                           queue={'visibility_timeout': 5},
                                           aws={'endpoints': {'dynamodb': proxy.url}},
                                           pipelines=[dict(w.daemon_config()['pipelines'][0], write_concurrency=4)])
                w.start_daemon(cfg)
                # 48 batches × 1 s, 4 in flight: ≥ 12 s ≫ the 5 s visibility timeout
                w.upload('slow/s.csv', rows(1200, 'V1'))
                w.wait_for_queue_empty(timeout=90)
                self.assertEqual(self.processed_keys(), ['slow/s.csv'])   # received once only
                self.assertEqual(len(w.scan_table()), 1200)
                sns = w.read_sns_messages(expect=2, timeout=3)
                self.assertEqual(len(sns), 1)
                self.assertGreater(sns[0]['Message']['duration_ms'], 10000)

        def test_broken_download_is_redone_once(self):
                w = self.w
                proxy = w.start_fault_proxy('s3')
                # the first GET of the file dies after 2000 bytes (40 rows written by then)
                fid = proxy.add('truncate', {'method': 'GET', 'path': 'cut\\.csv'}, bytes=2000, times=1)
                cfg = w.make_daemon_config(queue={'visibility_timeout': 3},
                                           aws={'endpoints': {'s3': proxy.url}, 'max_attempts': 1})
                w.start_daemon(cfg)
                w.upload('cut.csv', rows(400, 'K1'))
                w.wait_for_queue_empty(timeout=60)
                self.assertIn('RETRY', w.daemon_log())
                self.assertEqual([f['fired'] for f in proxy.stats()['faults'] if f['id'] == fid], [1])
                items = items_by_key(w)
                self.assertEqual(len(items), 400)
                self.assertEqual(items[('A00399', 'K1')]['first_name'], 'F399')
                sns = w.read_sns_messages(expect=2, timeout=3)
                self.assertEqual([e['Message']['status'] for e in sns], ['SUCCESS'])
                self.assertEqual(sns[0]['Message']['rows_written'], 400)
                self.assertEqual(w.list_keys(w.archive), ['cut.csv'])

        def test_gives_up_after_max_receive_count(self):
                w = self.w
                proxy = w.start_fault_proxy('s3')
                # every GetObject of this key fails as a server error: a transient failure
                proxy.add('status', {'method': 'GET', 'path': 'doomed'}, preset='s3-internal', times=-1)
                cfg = w.make_daemon_config(queue={'visibility_timeout': 2, 'max_receive_count': 1},
                                           aws={'endpoints': {'s3': proxy.url}, 'max_attempts': 1})
                w.start_daemon(cfg)
                w.upload('doomed.csv', rows(3, 'X1'))
                w.wait_for_queue_empty(timeout=60)
                err = json.loads(w.read_object(w.errors, 'doomed.csv.error.json'))
                # the second delivery (past max_receive_count 1) failed too: only then it gives up
                self.assertRegex(err['reason'], r'^gave up after 2 attempts: loading the file: .*InternalError')
                self.assertIn('doomed.csv', w.list_keys(w.errors))
                self.assertNotIn('doomed.csv', w.list_keys(w.inbound))
                sns = w.read_sns_messages(expect=1, timeout=10)
                self.assertEqual(sns[0]['Message']['status'], 'FAILURE')
                self.assertEqual(w.scan_table(), [])


if __name__ == '__main__':
        run_main()
