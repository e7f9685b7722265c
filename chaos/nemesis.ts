// The nemesis: a fault schedule drawn from a seeded PRNG before the run (the same seed gives
// the same faults, times and random choices), then played one fault at a time: apply, hold,
// heal, restart what it killed, wait for a leader. Targets that depend on the cluster's state
// (the leader) are resolved when a fault starts and printed with it.

import { appendFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../test/sim/prng.ts';
import type { ChaosCluster, ChaosNode } from './cluster.ts';
import type { Cut } from './net.ts';

export const FAULT_GROUPS = {
  kill: ['kill', 'kill-leader', 'kill-all'],
  pause: ['pause', 'pause-leader'],
  partition: ['partition-halves', 'partition-leader', 'partition-bridge', 'partition-ring', 'partition-random'],
  'one-way': ['one-way'],
  slow: ['slow'],
  flaky: ['flaky'],
  churn: ['churn-replace', 'churn-learner', 'transfer-leader'],
  disk: ['torn-wal', 'disk-full'],
  clock: ['clock-jump'],
} as const;
export type FaultGroup = keyof typeof FAULT_GROUPS;
export type FaultKind = (typeof FAULT_GROUPS)[FaultGroup][number];
/** Groups that need network namespaces (the loopback fallback has no network faults). */
export const NETWORK_GROUPS: readonly FaultGroup[] = ['partition', 'one-way', 'slow', 'flaky'];

export interface ScheduledFault {
  index: number;
  /** When it is planned to start, from the start of the workload. */
  atMs: number;
  kind: FaultKind;
  holdMs: number;
  /** The fault's own random stream: which nodes, which bytes, which offsets. */
  seed: number;
  /** Filled in as it runs: what it did, to whom. */
  what?: string;
}

export function makeSchedule(seed: number, durationMs: number, groups: readonly FaultGroup[]): ScheduledFault[] {
  const prng = new Prng(seed);
  const kinds = groups.flatMap((g) => FAULT_GROUPS[g]);
  const schedule: ScheduledFault[] = [];
  if (kinds.length === 0) return schedule;
  // A fault holds 1-5 s, then the cluster gets 1-3 s of calm (plus however long recovery takes).
  for (let atMs = 2000 + prng.int(1000); atMs < durationMs - 3000; ) {
    const holdMs = 1000 + prng.int(4000);
    schedule.push({ index: schedule.length, atMs, kind: prng.pick(kinds), holdMs, seed: prng.u32() });
    atMs += holdMs + 1000 + prng.int(2000);
  }
  return schedule;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Nemesis {
  private readonly cluster: ChaosCluster;
  /** The node whose data dir is a small tmpfs (disk-full), if any: never removed by churn. */
  private readonly diskNode: ChaosNode | null;
  readonly voters: number;
  readonly notes: string[] = [];

  constructor(cluster: ChaosCluster, voters: number, diskNode: ChaosNode | null) {
    this.cluster = cluster;
    this.voters = voters;
    this.diskNode = diskNode;
  }

  /** Play the schedule until it ends or `stopAtMs` (from `startedAt`) has passed. */
  async play(schedule: ScheduledFault[], startedAt: number, stopAtMs: number, log: (line: string) => void): Promise<void> {
    for (const fault of schedule) {
      const wait = fault.atMs - (performance.now() - startedAt);
      if (wait > 0) await sleep(wait);
      if (performance.now() - startedAt > stopAtMs) {
        fault.what = 'not run (out of time)';
        continue;
      }
      const at = Math.round(performance.now() - startedAt);
      try {
        fault.what = await this.run(fault);
      } catch (e) {
        fault.what = `nemesis error: ${(e as Error).message}`;
      }
      log(`  ${String(at).padStart(7)} ms  #${fault.index} ${fault.kind}: ${fault.what}`);
      await this.recover();
    }
  }

  private async run(fault: ScheduledFault): Promise<string> {
    const prng = new Prng(fault.seed);
    const c = this.cluster;
    const running = () => c.members.filter((n) => n.running);
    const pickRunning = (): ChaosNode | undefined => (running().length === 0 ? undefined : prng.pick(running()));
    const leaderNode = async (): Promise<ChaosNode | undefined> => {
      const id = await c.leader();
      return id === undefined ? pickRunning() : c.nodes.get(id);
    };
    switch (fault.kind) {
      case 'kill':
      case 'kill-leader': {
        const node = fault.kind === 'kill' ? pickRunning() : await leaderNode();
        if (node === undefined) return 'no running node';
        await c.kill(node);
        await sleep(fault.holdMs);
        c.spawn(node, false);
        return `SIGKILL ${node.id}, restarted after ${fault.holdMs} ms`;
      }
      case 'kill-all': {
        const nodes = running();
        await Promise.all(nodes.map((n) => c.kill(n)));
        await sleep(fault.holdMs);
        for (const n of nodes) c.spawn(n, false);
        return `SIGKILL ${ids(nodes)}, restarted after ${fault.holdMs} ms`;
      }
      case 'pause':
      case 'pause-leader': {
        const node = fault.kind === 'pause' ? pickRunning() : await leaderNode();
        if (node === undefined) return 'no running node';
        c.pause(node);
        await sleep(fault.holdMs);
        c.resume(node);
        return `SIGSTOP ${node.id}, SIGCONT after ${fault.holdMs} ms`;
      }
      case 'partition-halves':
      case 'partition-leader':
      case 'partition-bridge':
      case 'partition-ring':
      case 'partition-random':
      case 'one-way': {
        const { cuts, what } = await this.partition(fault.kind, prng, leaderNode);
        await c.net.setCuts(cuts);
        await sleep(fault.holdMs);
        await c.net.heal();
        return `${what}, healed after ${fault.holdMs} ms`;
      }
      case 'slow': {
        const node = prng.chance(0.5) ? await leaderNode() : pickRunning();
        if (node === undefined) return 'no running node';
        const rateKbit = 64 + prng.int(512);
        await c.net.slow(node.id, rateKbit, 200 + prng.int(800));
        await sleep(fault.holdMs);
        await c.net.heal();
        return `node ${node.id} link at ${rateKbit} kbit/s, healed after ${fault.holdMs} ms`;
      }
      case 'flaky': {
        // No netem here: loss is links flapping at random, every 100-400 ms, for the hold.
        const members = c.members.map((n) => n.id);
        let flaps = 0;
        for (const end = performance.now() + fault.holdMs; performance.now() < end; flaps++) {
          const cuts: Cut[] = [];
          for (const from of members) for (const to of members) if (from !== to && prng.chance(0.3)) cuts.push({ from, to });
          await c.net.setCuts(cuts);
          await sleep(100 + prng.int(300));
        }
        await c.net.heal();
        return `${flaps} random link flaps over ${fault.holdMs} ms`;
      }
      case 'clock-jump': {
        const node = pickRunning();
        if (node === undefined) return 'no running node';
        const jumpMs = (prng.chance(0.5) ? -1 : 1) * (1000 + prng.int(3_600_000));
        await writeFile(node.clockFile, String(jumpMs));
        await sleep(fault.holdMs);
        await writeFile(node.clockFile, '0');
        return `node ${node.id} wall clock jumped ${jumpMs} ms, back after ${fault.holdMs} ms`;
      }
      case 'torn-wal':
        return this.tornWal(prng, pickRunning(), fault.holdMs);
      case 'disk-full':
        return this.diskFull(fault.holdMs);
      case 'churn-replace':
        return this.replaceMember(prng);
      case 'churn-learner':
        return this.addLearnerAndPromote(prng);
      case 'transfer-leader': {
        const voters = await this.voterIds();
        const to = voters.length === 0 ? undefined : prng.pick(voters);
        if (to === undefined) return 'no voters known';
        const res = await this.ask('POST', `/-/transfer-leader?to=${to}`, undefined, [200]);
        return `transfer leadership to ${to}: ${res}`;
      }
    }
  }

  private async partition(kind: FaultKind, prng: Prng, leaderNode: () => Promise<ChaosNode | undefined>): Promise<{ cuts: Cut[]; what: string }> {
    const members = prng.shuffle(this.cluster.members.map((n) => n.id));
    const leader = (await leaderNode())?.id ?? members[0]!;
    const apart = (a: number[], b: number[]): Cut[] => a.flatMap((from) => b.flatMap((to) => [{ from, to }, { from: to, to: from }]));
    switch (kind) {
      case 'partition-halves': {
        const minority = members.slice(0, Math.floor(members.length / 2));
        const majority = members.slice(minority.length);
        return { cuts: apart(minority, majority), what: `partition ${minority.join(',')} | ${majority.join(',')}` };
      }
      case 'partition-leader': {
        const others = members.filter((id) => id !== leader);
        return { cuts: apart([leader], others), what: `leader ${leader} cut off from ${others.join(',')} (clients still reach it)` };
      }
      case 'partition-bridge': {
        // Two groups that cannot see each other, and one node that sees both.
        const [bridge, ...rest] = members;
        const left = rest.slice(0, Math.floor(rest.length / 2));
        const right = rest.slice(left.length);
        return { cuts: apart(left, right), what: `bridge ${bridge}: ${left.join(',')} | ${right.join(',')}` };
      }
      case 'partition-ring': {
        // Each node sees its two ring neighbours only (three nodes: a line, one link cut).
        const cuts: Cut[] = [];
        const n = members.length;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const gap = Math.min((i - j + n) % n, (j - i + n) % n);
            if (gap > 1 || (n === 3 && i * j === 2)) cuts.push({ from: members[i]!, to: members[j]! });
          }
        }
        return { cuts, what: `ring ${members.join('-')}${n === 3 ? ` (line: ${members[0]}-${members[2]} cut)` : ''}` };
      }
      case 'partition-random': {
        const cuts: Cut[] = [];
        for (const from of members) for (const to of members) if (from !== to && prng.chance(0.4)) cuts.push({ from, to });
        return { cuts, what: `random one-way cuts ${cuts.map((c) => `${c.from}>${c.to}`).join(' ') || '(none)'}` };
      }
      default: {
        const others = members.filter((id) => id !== leader);
        if (prng.chance(0.5)) return { cuts: others.map((to) => ({ from: leader, to })), what: `one-way: leader ${leader} cannot send to ${others.join(',')}` };
        return { cuts: others.map((from) => ({ from, to: leader })), what: `one-way: ${others.join(',')} cannot send to leader ${leader}` };
      }
    }
  }

  /** Kill, append garbage after the last record of the newest WAL segment (a torn write), restart. */
  private async tornWal(prng: Prng, node: ChaosNode | undefined, holdMs: number): Promise<string> {
    if (node === undefined) return 'no running node';
    await this.cluster.kill(node);
    const segments = (await readdir(node.walDir).catch(() => [])).filter((f) => f.endsWith('.wal')).sort();
    const newest = segments.at(-1);
    let what = `SIGKILL ${node.id}, no WAL segment to tear`;
    if (newest !== undefined) {
      const garbage = Buffer.alloc(1 + prng.int(300));
      for (let i = 0; i < garbage.length; i++) garbage[i] = prng.int(256);
      await appendFile(join(node.walDir, newest), garbage);
      what = `SIGKILL ${node.id}, ${garbage.length} garbage bytes after the tail of ${newest}`;
    }
    await sleep(holdMs);
    this.cluster.spawn(node, false);
    return `${what}, restarted after ${holdMs} ms`;
  }

  /** Fill the tmpfs under one node's data dir, hold, free it; the node may stop (it is restarted). */
  private async diskFull(holdMs: number): Promise<string> {
    const node = this.diskNode;
    if (node === null || node.removed) return 'no node on a small disk';
    const filler = join(node.dataDir, 'chaos-filler');
    await mkdir(filler, { recursive: true });
    node.exitExpected = true; // a node that cannot write stops itself: allowed while the disk is full
    let filled = 0;
    try {
      for (const chunk = Buffer.alloc(1024 * 1024, 0x5a); ; filled++) await appendFile(join(filler, 'fill'), chunk);
    } catch {
      // ENOSPC: full
    }
    await sleep(holdMs);
    await rm(filler, { recursive: true, force: true });
    const died = !node.running;
    if (died) this.cluster.spawn(node, false);
    else node.exitExpected = false;
    return `disk of node ${node.id} filled (${filled} MiB more), freed after ${holdMs} ms; ${died ? 'it stopped, restarted' : 'it kept running'}`;
  }

  private async voterIds(): Promise<number[]> {
    for (const node of this.cluster.members) {
      const s = node.running ? await this.cluster.status(node.id) : undefined;
      if (s !== undefined) return s.members.filter((m) => m.role === 'voter').map((m) => m.id);
    }
    return [];
  }

  /**
   * Send a membership request to the leader (else any running member), retrying what was not
   * served (503, 504, no answer) for up to 20 s. Returns the final status, or 'gave up'.
   */
  private async ask(method: 'POST' | 'DELETE', path: string, body: string | undefined, done: number[]): Promise<string> {
    const deadline = performance.now() + 20_000;
    let last = 'no answer';
    while (performance.now() < deadline) {
      const leader = await this.cluster.leader();
      const target = leader ?? this.cluster.members.find((n) => n.running)?.id;
      if (target !== undefined) {
        try {
          const res = await this.cluster.call(target, method, path, body, 8000);
          last = String(res.status);
          if (done.includes(res.status)) return last;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      await sleep(300);
    }
    return `gave up (${last})`;
  }

  private async removeMember(victim: ChaosNode): Promise<string> {
    victim.removing = true;
    // 404: a retried DELETE whose first try (a 504) had removed it already.
    const res = await this.ask('DELETE', `/${victim.id}`, undefined, [204, 404]);
    if (res !== '204' && res !== '404') {
      victim.removing = false;
      return `remove ${victim.id}: ${res}`;
    }
    const exited = await Promise.race([victim.exit.then(() => true), sleep(15_000).then(() => false)]);
    if (!exited) await this.cluster.kill(victim); // it never heard of its removal: stop it ourselves
    victim.removed = true;
    await this.cluster.net.removeHost(victim.id);
    return `removed ${victim.id}${exited ? '' : ' (killed: it did not stop by itself)'}`;
  }

  private async addMember(learner: boolean): Promise<{ node: ChaosNode; what: string }> {
    const node = await this.cluster.allocate();
    const res = await this.ask('POST', `/${node.id}${learner ? '?learner=true' : ''}`, this.cluster.peerUrl(node.id), [204, 409]);
    this.cluster.spawn(node, true);
    return { node, what: `added ${learner ? 'learner' : 'voter'} ${node.id} (${res})` };
  }

  private removable(prng: Prng, except: ChaosNode[]): ChaosNode | undefined {
    const candidates = this.cluster.members.filter((n) => n !== this.diskNode && !except.includes(n));
    return candidates.length === 0 ? undefined : prng.pick(candidates);
  }

  private async replaceMember(prng: Prng): Promise<string> {
    if (this.cluster.members.some((n) => !n.running)) return 'skipped: a member is down';
    const victim = this.removable(prng, []);
    if (victim === undefined) return 'no member to replace';
    const removed = await this.removeMember(victim);
    if (!victim.removed) return removed;
    const added = await this.addMember(false);
    return `${removed}, ${added.what}`;
  }

  private async addLearnerAndPromote(prng: Prng): Promise<string> {
    if (this.cluster.members.some((n) => !n.running)) return 'skipped: a member is down';
    const { node, what } = await this.addMember(true);
    // 409 until the learner has caught up; only the leader decides (others answer 503).
    const promoted = await this.ask('POST', `/-/members/${node.id}/promote`, undefined, [204]);
    if (promoted !== '204') return `${what}, promote: ${promoted}`;
    const victim = this.removable(prng, [node]);
    const removed = victim === undefined ? 'nothing removed' : await this.removeMember(victim);
    return `${what}, promoted, ${removed}`;
  }

  /** Heal everything the last fault may have left, restart stopped members, wait for a leader. */
  async recover(): Promise<void> {
    const c = this.cluster;
    await c.net.heal();
    for (const node of c.members) {
      c.resume(node);
      if (!node.running && !node.removing) c.spawn(node, false);
    }
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && (await c.leader()) === undefined) await sleep(200);
  }
}

function ids(nodes: ChaosNode[]): string {
  return nodes.map((n) => n.id).join(',');
}
