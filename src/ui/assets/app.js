// The dashboard in the browser (plain JS, no build step): polls /-/ui/cluster (what the node
// serving the page gathered from every member), follows /-/events for the timeline, draws
// members, logs, links and uPlot charts, and sends the operator's actions to the HTTP API.
'use strict';

const POLL_MS = 400;
const EVENTS_SHOWN_MAX = 200;
const LOG_CELLS = 40;

const $ = (id) => document.getElementById(id);
const rows = new Map(); // member id → its <tr> in the members table
const charts = {};
let lastView = null;

// ---- polling ----

async function poll() {
  try {
    const res = await fetch('/-/ui/cluster', { cache: 'no-store' });
    if (!res.ok) throw new Error(`answered ${res.status}`);
    const view = await res.json();
    lastView = view;
    render(view);
    $('connection').textContent = `updated ${new Date(view.atMs).toLocaleTimeString()}`;
    $('connection').className = '';
  } catch (e) {
    $('connection').textContent = `this node does not answer (${e.message}); retrying`;
    $('connection').className = 'bad';
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function render(view) {
  $('served-by').textContent = `· served by member ${view.self}`;
  renderMembers(view);
  renderLogs(view);
  renderLinks(view);
  renderCharts(view.charts);
}

// ---- members ----

function renderMembers(view) {
  const tbody = $('members').tBodies[0];
  const ids = new Set(view.members.map((m) => m.id));
  for (const [id, tr] of rows) {
    if (!ids.has(id)) {
      tr.remove();
      rows.delete(id);
    }
  }
  const leaderId = view.members.find((m) => m.state === 'leader')?.id ?? 0;
  view.members.forEach((m, position) => {
    let tr = rows.get(m.id);
    if (tr === undefined) {
      tr = document.createElement('tr');
      tr.className = 'member';
      for (let i = 0; i < 11; i++) tr.appendChild(document.createElement(i === 0 ? 'th' : 'td'));
      tr.cells[0].scope = 'row';
      rows.set(m.id, tr);
    }
    // In id order, moved only when out of place: moving a row would take the keyboard focus away.
    if (tbody.children[position] !== tr) tbody.insertBefore(tr, tbody.children[position] ?? null);
    const s = m.status;
    setMemberData(tr, m);
    tr.dataset.self = String(m.id === view.self);
    const cells = [
      m.id === view.self ? `${m.id} (this page)` : String(m.id),
      m.state + (m.membership === 'learner' && m.state !== 'learner' ? ' (learner)' : ''),
      s ? s.term : '–',
      s ? (s.leader === 0 ? 'none' : s.leader) : '–',
      s ? s.commit : '–',
      s ? s.applied : '–',
      s ? s.lastIndex : '–',
      s ? s.snapshotIndex : '–',
      seenText(m),
      m.clientURL ?? '–',
    ];
    cells.forEach((text, i) => setText(tr.cells[i], String(text)));
    tr.cells[1].className = `role role-${m.state}`;
    renderMemberActions(tr.cells[10], m, leaderId);
  });
}

/** What tests and tools read instead of the text: on every element that stands for a member. */
function setMemberData(el, m) {
  const s = m.status;
  el.dataset.memberId = String(m.id);
  el.dataset.role = m.state;
  el.dataset.term = s ? String(s.term) : '';
  el.dataset.leader = s ? String(s.leader) : '';
  el.dataset.commit = s ? String(s.commit) : '';
}

function seenText(m) {
  if (m.state !== 'unreachable') return m.lastSeenMsAgo === null ? 'not yet' : 'now';
  const ago = m.lastSeenMsAgo === null ? 'never seen' : `last seen ${(m.lastSeenMsAgo / 1000).toFixed(1)} s ago`;
  return `${ago}${m.problem ? ` (${m.problem})` : ''}`;
}

/** Buttons are rebuilt only when the set changes, so keyboard focus stays where it was. */
function renderMemberActions(cell, m, leaderId) {
  const wanted = [];
  if (m.membership === 'voter' && m.id !== leaderId && m.state !== 'unreachable') wanted.push('transfer');
  if (m.membership === 'learner') wanted.push('promote');
  wanted.push('remove');
  const key = wanted.join(',');
  if (cell.dataset.actions === key) return;
  cell.dataset.actions = key;
  cell.replaceChildren(...wanted.map((action) => actionButton(action, m.id)));
}

const ACTIONS = {
  transfer: {
    label: 'Make leader',
    describe: (id) => `Transfer leadership to member ${id}?`,
    request: (id) => ['POST', `/-/transfer-leader?to=${id}`],
  },
  promote: {
    label: 'Promote',
    describe: (id) => `Promote learner ${id} to a voter? (Only the leader decides; a follower answers 503.)`,
    request: (id) => ['POST', `/-/members/${id}/promote`],
  },
  remove: {
    label: 'Remove',
    describe: (id) => `Remove member ${id} from the cluster? It shuts itself down, and its id can never be used again.`,
    request: (id) => ['DELETE', `/${id}`],
  },
};

function actionButton(action, id) {
  const spec = ACTIONS[action];
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = spec.label;
  button.dataset.action = action;
  button.setAttribute('aria-label', `${spec.label}: member ${id}`);
  button.addEventListener('click', async () => {
    if (!(await confirmAction(spec.describe(id)))) return;
    const [method, path] = spec.request(id);
    await callApi(method, path);
  });
  return button;
}

// ---- logs, RaftScope style ----

function renderLogs(view) {
  const known = view.members.filter((m) => m.status !== null);
  const end = Math.max(0, ...known.map((m) => m.status.lastIndex));
  const start = Math.max(1, end - LOG_CELLS + 1);
  const box = $('logs');
  const lines = view.members.map((m) => logLine(m, start, end));
  box.replaceChildren(...lines);
}

function logLine(m, start, end) {
  const line = document.createElement('div');
  line.className = `log-line role-${m.state}`;
  setMemberData(line, m);
  const label = document.createElement('span');
  label.className = 'log-label';
  label.textContent = `member ${m.id}`;
  line.appendChild(label);
  const cells = document.createElement('span');
  cells.className = 'log-cells';
  const s = m.status;
  for (let index = start; index <= end; index++) {
    const cell = document.createElement('span');
    cell.className = 'cell';
    const term = s === null ? undefined : s.recentLogTerms.terms[index - s.recentLogTerms.firstIndex];
    if (term === undefined) {
      cell.classList.add('empty');
      cell.title = `index ${index}: not in this member's recent log`;
    } else {
      cell.textContent = String(term);
      cell.style.backgroundColor = termColour(term);
      cell.classList.add(index <= s.commit ? 'committed' : 'uncommitted');
      cell.title = `index ${index}, term ${term}${index <= s.commit ? ', committed' : ''}`;
    }
    cells.appendChild(cell);
  }
  line.appendChild(cells);
  if (s !== null) {
    const commit = document.createElement('span');
    commit.className = 'log-commit';
    commit.textContent = `commit ${s.commit}`;
    line.appendChild(commit);
  }
  return line;
}

/** Light colours, one per term, all readable with black text. */
function termColour(term) {
  return `hsl(${(term * 67) % 360} 70% 78%)`;
}

// ---- links ----

function renderLinks(view) {
  const tbody = $('links').tBodies[0];
  const out = [];
  for (const m of view.members) {
    for (const link of m.links) {
      const tr = document.createElement('tr');
      tr.dataset.from = String(m.id);
      tr.dataset.to = String(link.to);
      tr.dataset.failing = String(link.failing);
      for (const text of [m.id, link.to, link.messagesPerSecond.toFixed(1), link.failing ? 'failing' : 'ok']) {
        const td = document.createElement('td');
        td.textContent = String(text);
        tr.appendChild(td);
      }
      tr.cells[3].className = link.failing ? 'bad' : 'good';
      out.push(tr);
    }
  }
  tbody.replaceChildren(...out);
}

// ---- charts ----

const CHARTS = [
  { id: 'chart-writes', series: 'writesPerSecond', label: 'writes/s', stroke: '#1a56b0' },
  { id: 'chart-reads', series: 'readsPerSecond', label: 'reads/s', stroke: '#1d7a3a' },
  { id: 'chart-latency', series: 'writeMeanMs', label: 'ms', stroke: '#a3361f' },
];

function renderCharts(series) {
  if (typeof uPlot === 'undefined') return;
  for (const spec of CHARTS) {
    const data = [series.atSeconds, series[spec.series]];
    if (charts[spec.id] === undefined) {
      const el = $(spec.id);
      charts[spec.id] = new uPlot(chartOptions(spec, el.clientWidth), data, el);
    } else {
      charts[spec.id].setData(data);
    }
  }
}

function chartOptions(spec, width) {
  return {
    width: Math.max(200, width),
    height: 150,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    series: [{}, { label: spec.label, stroke: spec.stroke, width: 2, spanGaps: false }],
    axes: [{ stroke: '#222' }, { stroke: '#222', size: 50 }],
  };
}

window.addEventListener('resize', () => {
  for (const spec of CHARTS) charts[spec.id]?.setSize({ width: Math.max(200, $(spec.id).clientWidth), height: 150 });
});

// ---- events ----

function followEvents() {
  const source = new EventSource('/-/events');
  source.addEventListener('raft', (msg) => {
    const e = JSON.parse(msg.data);
    const li = document.createElement('li');
    li.dataset.kind = e.kind;
    const time = document.createElement('time');
    time.dateTime = new Date(e.atMs).toISOString();
    time.textContent = new Date(e.atMs).toLocaleTimeString();
    li.append(time, ` ${describeEvent(e)}`);
    const list = $('events');
    list.prepend(li);
    while (list.children.length > EVENTS_SHOWN_MAX) list.lastElementChild.remove();
  });
}

function describeEvent(e) {
  const me = `member ${e.source}`;
  switch (e.kind) {
    case 'role':
      return `${me} became ${e.role} in term ${e.term}`;
    case 'leader':
      return e.leader === 0 ? `${me} lost its leader (term ${e.term})` : `${me} follows leader ${e.leader} in term ${e.term}`;
    case 'member':
      return `member ${e.member} ${e.change.replace('-', ' ')} (entry ${e.index})`;
    case 'snapshot':
      return `${me} ${e.how === 'taken' ? 'took a snapshot' : 'installed a snapshot from the leader'} at index ${e.index}`;
    case 'peer':
      return `${me} ${e.up ? 'reaches' : 'cannot reach'} member ${e.peer}${e.up ? ' again' : ''}`;
    case 'observed-role':
      return `member ${e.member} is ${e.role} in term ${e.term} (seen by polling)`;
    case 'reachability':
      return `member ${e.member} ${e.up ? 'answers again' : 'does not answer'} (seen by polling)`;
    default:
      return JSON.stringify(e);
  }
}

// ---- actions ----

/** Ask in the <dialog>; resolves true only for "Confirm" (Escape and "Cancel" say no). */
function confirmAction(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

async function callApi(method, path, body) {
  const answer = $('answer');
  answer.textContent = `${method} ${path} …`;
  try {
    const res = await fetch(path, { method, body, cache: 'no-store' });
    const text = (await res.text()).trim();
    answer.textContent = `${method} ${path} → ${res.status}${text ? ` ${text.slice(0, 500)}` : ''}`;
    answer.className = res.ok ? 'good' : 'bad';
    if (res.status === 503 && lastView !== null) answer.textContent += leaderHint();
  } catch (e) {
    answer.textContent = `${method} ${path} → no answer (${e.message})`;
    answer.className = 'bad';
  }
}

function leaderHint() {
  const leader = lastView.members.find((m) => m.state === 'leader');
  return leader && leader.clientURL ? ` (the leader's own dashboard: ${leader.clientURL}/-/ui)` : '';
}

/** The key as a request path: the key is the raw path, so only what would end it is escaped. */
function keyPath(key) {
  return '/' + encodeURI(key.replace(/^\/+/, '')).replace(/\?/g, '%3F').replace(/#/g, '%23');
}

$('kv-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const op = ev.submitter?.value === 'get' ? 'get' : 'put';
  const key = $('kv-key').value;
  const value = $('kv-value').value;
  const path = keyPath(key);
  const text = op === 'put' ? `Write ${JSON.stringify(value)} to key ${path}?` : `Read key ${path} (linearizable)?`;
  if (!(await confirmAction(text))) return;
  await callApi(op === 'put' ? 'PUT' : 'GET', path, op === 'put' ? value : undefined);
});

$('learner-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const id = $('learner-id').value.trim();
  const url = $('learner-url').value.trim();
  if (!(await confirmAction(`Add member ${id} as a learner at ${url}? Then start it with --join.`))) return;
  await callApi('POST', `/${id}?learner=true`, url);
});

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

poll();
followEvents();
