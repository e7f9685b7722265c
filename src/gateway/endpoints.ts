// Which endpoint a new connection goes to: round-robin over the endpoints, skipping for
// --retry-delay-ms any that refused a connection (etcd's gateway marks such a remote inactive).

import type { GatewayEndpoint } from './flags.ts';

interface EndpointState {
  endpoint: GatewayEndpoint;
  /** Until when (ms, on the picker's clock) it is skipped; 0: not skipped. */
  skippedUntilMs: number;
  /** It refused its last connection and has not accepted one since. */
  down: boolean;
}

export class EndpointPicker {
  private readonly states: EndpointState[];
  private readonly retryDelayMs: number;
  private readonly now: () => number;
  /** Where the next connection's round starts. */
  private cursor = 0;

  constructor(endpoints: readonly GatewayEndpoint[], retryDelayMs: number, now: () => number = Date.now) {
    if (endpoints.length === 0) throw new Error('EndpointPicker: no endpoints');
    this.states = endpoints.map((endpoint) => ({ endpoint, skippedUntilMs: 0, down: false }));
    this.retryDelayMs = retryDelayMs;
    this.now = now;
  }

  /**
   * The endpoints one connection may try, in order: every endpoint once, starting at the
   * round-robin cursor, each skipped while it is marked refused (checked when reached, so a
   * refusal seen by another connection meanwhile counts). The cursor moves past the first
   * endpoint handed out, so the next connection starts after it.
   */
  *round(): Generator<GatewayEndpoint> {
    const start = this.cursor;
    let first = true;
    for (let step = 0; step < this.states.length; step++) {
      const index = (start + step) % this.states.length;
      const state = this.states[index]!;
      if (state.skippedUntilMs > this.now()) continue;
      if (first) {
        this.cursor = (index + 1) % this.states.length;
        first = false;
      }
      yield state.endpoint;
    }
    if (first) this.cursor = (start + 1) % this.states.length;
  }

  /** The endpoint refused a connection: skip it for the retry delay. True if it was up until now. */
  refused(endpoint: GatewayEndpoint): boolean {
    const state = this.stateOf(endpoint);
    state.skippedUntilMs = this.now() + this.retryDelayMs;
    const wasUp = !state.down;
    state.down = true;
    return wasUp;
  }

  /** The endpoint accepted a connection. True if it had been refusing until now. */
  accepted(endpoint: GatewayEndpoint): boolean {
    const state = this.stateOf(endpoint);
    state.skippedUntilMs = 0;
    const wasDown = state.down;
    state.down = false;
    return wasDown;
  }

  /** The endpoints that refused their last connection (they are retried after the delay). */
  downEndpoints(): GatewayEndpoint[] {
    return this.states.filter((s) => s.down).map((s) => s.endpoint);
  }

  private stateOf(endpoint: GatewayEndpoint): EndpointState {
    const state = this.states.find((s) => s.endpoint === endpoint);
    if (state === undefined) throw new Error(`EndpointPicker: unknown endpoint ${endpoint.url}`);
    return state;
  }
}
