#!/usr/bin/python3
"""Write flow control end to end (issue 11): DynamoDB behind the fault proxy, which counts the
write capacity units of every item it forwards, per second (its own count: 1 WCU per started
KB of each item, "Item sizes and formats").

- test_budget: `write_capacity: {units_per_second: 500}`, 4 workers, 25 files of 2-WCU rows
  (~30 s of work at the budget): the measured rate stays within 10 % of the budget, and no
  span exceeds what a one-second bucket allows (budget × (span + 1 s)).
- test_adaptive: no budget, the proxy throttles (ProvisionedThroughputExceededException) any
  call that would take the last second past R WCU/s: the daemon's rate settles near R instead
  of hammering or swinging (second half: mean ≥ 0.6 R, no second below 0.3 R, throttled calls
  ≤ 20 % of the calls).

- test_adaptive_unprocessed: the same with the throttling answered as UnprocessedItems.

All print their series as "second,wcu,throttled_calls" lines (the closing note of issue 11
plots them); FLOW_SERIES_DIR=DIR also writes them to DIR/{budget,adaptive,unprocessed}.csv."""
import os
import time

from daemonlib import WorldTestCase, run_main

BWI = 'DynamoDB_20120810.BatchWriteItem'
PAD = 'x' * 1500        # a ~1.5 KB item: 2 WCU


def rows(n, course, pad=''):
        return 'student_id,first_name,last_name,course\n' + ''.join(
                f'A{i:05d},F{i},L{i}{pad},{course}\n' for i in range(n))


class WriteCapacity(WorldTestCase):
        @classmethod
        def prepare(cls, w):
                cls.proxy = w.start_fault_proxy('dynamodb')

        def setUp(self):
                self.proxy._call('POST', '/reset')
                while self.w.receive(self.w.capture_url, wait=0):
                        pass

        def tearDown(self):
                try:
                        self.w.stop_daemon()    # after a failure; a no-op once stopped
                except Exception:
                        pass

        def run_files(self, name, n_files, n_rows, pad, pipeline_extra, timeout):
                base = self.w.daemon_config()['pipelines'][0]
                pipeline = dict(base, **pipeline_extra)
                cfg = self.w.make_daemon_config(name=f'{name}.yaml', workers=4, pipelines=[pipeline],
                                                aws={'endpoints': {'dynamodb': self.proxy.url},
                                                     'max_attempts_batch': 10})
                self.w.start_daemon(cfg)
                for i in range(n_files):
                        self.w.upload(f'{name}/f{i:02d}.csv', rows(n_rows, f'{name}{i}', pad))
                msgs = self.w.read_sns_messages(expect=n_files, timeout=timeout)
                self.w.stop_daemon()
                self.assertEqual(len(msgs), n_files, f'{len(msgs)} of {n_files} summaries')
                for m in msgs:
                        self.assertEqual((m['Message']['status'], m['Message']['rows_written']),
                                         ('SUCCESS', n_rows), m['Message'])
                return msgs

        def series(self, name):
                cap = self.proxy.capacity()
                wcu = dict(cap['seconds'])
                thr = dict(cap['throttled_seconds'])
                first, last = min(wcu), max(wcu)
                out = [(s - first, wcu.get(s, 0), thr.get(s, 0)) for s in range(first, last + 1)]
                text = ''.join(f'{s},{w},{t}\n' for s, w, t in out)
                print(f'# {name}: second,wcu,throttled_calls')
                print(text, end='', flush=True)
                if os.environ.get('FLOW_SERIES_DIR'):
                        with open(os.path.join(os.environ['FLOW_SERIES_DIR'], f'{name}.csv'), 'w') as f:
                                f.write('second,wcu,throttled_calls\n' + text)
                return out, cap

        def test_budget(self):
                budget = 500
                t0 = time.monotonic()
                msgs = self.run_files('budget', 25, 300, PAD,
                                      {'write_capacity': {'units_per_second': budget}}, timeout=75)
                out, cap = self.series('budget')
                print(f'# budget: {time.monotonic() - t0:.1f} s, {cap["forwarded_wcu"]} WCU forwarded')
                # every row costs 2 WCU by the proxy's count, and the summaries say so too
                self.assertEqual(cap['forwarded_wcu'], 25 * 300 * 2)
                consumed = sum(m['Message']['consumed_wcu'] for m in msgs)
                self.assertAlmostEqual(consumed, 25 * 300 * 2, delta=25 * 300 * 2 * 0.02)
                self.assertGreaterEqual(len(out), 25, 'the run was meant to last ~30 s')
                # full seconds only: the last one is cut short
                full = [w for _, w, _ in out[:-1]]
                mean = sum(full) / len(full)
                self.assertLess(abs(mean - budget), 0.1 * budget, f'mean {mean:.0f} WCU/s')
                # any span of k seconds: at most budget × (k + 1), the bucket's one second
                for k in range(1, len(full) + 1):
                        worst = max(sum(full[i:i + k]) for i in range(len(full) - k + 1))
                        self.assertLessEqual(worst, budget * (k + 1), f'{worst} WCU in {k} s')

        def test_adaptive(self):
                rate = 1000
                self.proxy.add('capacity', {'target': BWI}, rate=rate, times=-1)
                t0 = time.monotonic()
                self.run_files('adaptive', 20, 1500, '', {}, timeout=90)
                out, cap = self.series('adaptive')
                print(f'# adaptive: {time.monotonic() - t0:.1f} s, {cap["forwarded_wcu"]} WCU forwarded, '
                      f'{cap["throttled"]} calls throttled')
                self.assertEqual(cap['forwarded_wcu'], 20 * 1500)
                full = out[:-1]
                half = full[len(full) // 2:]
                self.assertGreaterEqual(len(half), 8, 'the run was meant to last ~30 s')
                mean = sum(w for _, w, _ in half) / len(half)
                self.assertGreaterEqual(mean, 0.6 * rate, f'second half mean {mean:.0f} WCU/s')
                self.assertLessEqual(mean, rate)
                self.assertGreaterEqual(min(w for _, w, _ in half), 0.3 * rate, 'the rate collapsed')
                calls = sum(w for _, w, _ in half) / 25     # 1-WCU items, full batches
                throttled = sum(t for _, _, t in half)
                self.assertLessEqual(throttled, 0.2 * (calls + throttled),
                                     f'{throttled} throttled calls for {calls:.0f} accepted')

        def test_adaptive_unprocessed(self):
                """The same table answering with UnprocessedItems instead of an error (what
                DynamoDB does when part of a batch fits): a mostly-unprocessed batch counts as a
                throttle, and the rate settles the same way."""
                rate = 1000
                self.proxy.add('capacity', {'target': BWI}, rate=rate, mode='unprocessed', times=-1)
                self.run_files('unprocessed', 12, 1500, '', {}, timeout=60)
                out, cap = self.series('unprocessed')
                self.assertEqual(cap['forwarded_wcu'], 12 * 1500)
                half = out[:-1][len(out) // 2:]
                mean = sum(w for _, w, _ in half) / len(half)
                self.assertGreaterEqual(mean, 0.6 * rate, f'second half mean {mean:.0f} WCU/s')
                self.assertGreaterEqual(min(w for _, w, _ in half), 0.3 * rate, 'the rate collapsed')


if __name__ == '__main__':
        run_main()
