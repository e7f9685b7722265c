// The charts' counters from a member's Prometheus text, and the rates between two scrapes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrafficCounters, trafficRates } from '../../src/ui/traffic.ts';

const PAGE = (puts: number, putSeconds: number, gets: number) => `
# HELP raftexample_http_request_duration_seconds Time to answer a client request, by route and status code.
# TYPE raftexample_http_request_duration_seconds histogram
raftexample_http_request_duration_seconds_bucket{le="0.0005",route="key_put",status="204"} 1
raftexample_http_request_duration_seconds_sum{route="key_put",status="204"} ${putSeconds}
raftexample_http_request_duration_seconds_count{route="key_put",status="204"} ${puts}
raftexample_http_request_duration_seconds_sum{route="key_put",status="503"} 9
raftexample_http_request_duration_seconds_count{route="key_put",status="503"} 40
raftexample_http_request_duration_seconds_count{route="key_get",status="200"} ${gets}
raftexample_http_request_duration_seconds_count{status="404",route="key_get"} 5
raftexample_http_request_duration_seconds_count{route="status",status="200"} 77
raftexample_proposals_committed_total 12
`;

test('counts committed PUTs (204 only) with their seconds, and answered GETs (200 and 404), whatever the label order', () => {
  assert.deepEqual(parseTrafficCounters(PAGE(10, 0.5, 20)), { writes: 10, writeSeconds: 0.5, reads: 25 });
  assert.deepEqual(parseTrafficCounters(''), { writes: 0, writeSeconds: 0, reads: 0 });
});

test('rates between two scrapes; none across a restart (a counter went down) or no time', () => {
  const a = parseTrafficCounters(PAGE(10, 0.5, 20));
  const b = parseTrafficCounters(PAGE(30, 1.5, 40));
  assert.deepEqual(trafficRates(a, b, 2), { writesPerSecond: 10, readsPerSecond: 10, writeMeanSeconds: 0.05 });
  assert.deepEqual(trafficRates(a, a, 1), { writesPerSecond: 0, readsPerSecond: 0, writeMeanSeconds: null });
  assert.equal(trafficRates(b, a, 2), null);
  assert.equal(trafficRates(a, b, 0), null);
});
