// Where the dashboard reaches a member: its published clientURL, else raftexample's layout.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberClientUrl } from '../../src/ui/member-url.ts';

const member = (extra: object = {}) => ({ id: 2, peerURL: 'http://127.0.0.1:22379', role: 'voter' as const, ...extra });

test('the clientURL a member published, as an origin', () => {
  assert.equal(memberClientUrl(member({ clientURL: 'http://10.0.0.2:9000/' }), 'http:'), 'http://10.0.0.2:9000');
  assert.equal(memberClientUrl(member({ clientURL: 'https://node2.example:443' }), 'http:'), 'https://node2.example');
});

test('without one (or with a bad one): the peer host and the next port, in the client scheme', () => {
  assert.equal(memberClientUrl(member(), 'http:'), 'http://127.0.0.1:22380');
  assert.equal(memberClientUrl(member(), 'https:'), 'https://127.0.0.1:22380');
  assert.equal(memberClientUrl(member({ clientURL: 'file:///etc/passwd' }), 'http:'), 'http://127.0.0.1:22380');
  assert.equal(memberClientUrl(member({ clientURL: 'http://user:pw@evil:1' }), 'http:'), 'http://127.0.0.1:22380');
  assert.equal(memberClientUrl(member({ clientURL: '' }), 'http:'), 'http://127.0.0.1:22380');
  assert.equal(memberClientUrl({ ...member(), peerURL: 'http://127.0.0.1:65535' }, 'http:'), null);
  assert.equal(memberClientUrl({ ...member(), peerURL: 'not a url' }, 'http:'), null);
});
