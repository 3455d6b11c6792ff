// cairn dashboard: plain ES2020 module, no framework, no build step, nothing
// loaded from other hosts. Talks to the API of docs/api.md.
//
// Security: every string that comes from the API (file names above all: any
// process on the machine can pick them) reaches the page through textContent
// or setAttribute, never as HTML. The access token never leaves the login
// form: the server answers with an HttpOnly cookie, and the CSRF token of the
// session is kept in memory only.

// ====================================================================== DOM
const SVGNS = 'http://www.w3.org/2000/svg';

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected' || k === 'indeterminate') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}
function append(el, ...kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) append(el, ...k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
}
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}
function clear(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

// Icons: constant path data drawn in a 24x24 box.
const ICONS = {
  check: 'M5 12.5l4.5 4.5L19 7.5',
  alert: 'M12 7v6M12 16.5v.5',
  pause: 'M9 7v10M15 7v10',
  overview: 'M4 13h6V4H4zM14 20h6v-9h-6zM4 20h6v-4H4zM14 4v4h6V4z',
  files: 'M3 7a2 2 0 012-2h4l2 2h8a2 2 0 012 2v8a2 2 0 01-2 2H5a2 2 0 01-2-2z',
  search: 'M11 18a7 7 0 100-14 7 7 0 000 14zM16.5 16.5L21 21',
  backup: 'M12 16V5M7.5 9.5L12 5l4.5 4.5M5 19h14',
  activity: 'M3 12h4l3-7 4 14 3-7h4',
  settings: 'M12 15a3 3 0 100-6 3 3 0 000 6zM19 12l2-1-1-3-2.3.2-1.2-1.5.4-2.3-2.8-1.3L12.5 4h-1l-1.6-1.9-2.8 1.3.4 2.3L6.3 7.2 4 7l-1 3 2 1v2l-2 1 1 3 2.3-.2 1.2 1.5-.4 2.3 2.8 1.3 1.6-1.9h1l1.6 1.9 2.8-1.3-.4-2.3 1.2-1.5 2.3.2 1-3-2-1z',
  folder: 'M3 7a2 2 0 012-2h4l2 2h8a2 2 0 012 2v8a2 2 0 01-2 2H5a2 2 0 01-2-2z',
  file: 'M7 3h7l5 5v13H7zM14 3v5h5',
  link: 'M10 14a4 4 0 005.6 0l3-3a4 4 0 00-5.6-5.6l-1 1M14 10a4 4 0 00-5.6 0l-3 3a4 4 0 005.6 5.6l1-1',
  gone: 'M7 3h7l5 5v13H7zM10 12l5 5M15 12l-5 5',
  download: 'M12 4v11M7.5 10.5L12 15l4.5-4.5M5 20h14',
  restore: 'M4 12a8 8 0 108-8 8 8 0 00-6 2.7M4 4v4h4',
  history: 'M12 7v5l3 2M3.5 12a8.5 8.5 0 108.5-8.5A8.5 8.5 0 005 7M3 3.5V7h3.5',
};
function icon(name, cls) {
  return s('svg', { viewBox: '0 0 24 24', class: cls || 'ico', 'aria-hidden': 'true', focusable: 'false', fill: 'none', stroke: 'currentColor', 'stroke-width': name === 'check' || name === 'alert' || name === 'pause' ? 3 : 1.8, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' },
    s('path', { d: ICONS[name] }));
}

// ================================================================ formatting
function fmtBytes(n) {
  if (n == null || isNaN(n)) return '—';
  n = Number(n);
  if (Math.abs(n) < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let u = -1;
  do { n /= 1024; u++; } while (Math.abs(n) >= 1024 && u < units.length - 1);
  return `${n.toFixed(Math.abs(n) < 10 ? 1 : 0)} ${units[u]}`;
}
const nf = new Intl.NumberFormat('en');
function fmtCount(n) { return n == null ? '—' : nf.format(n); }
function plural(n, one, many) { return `${fmtCount(n)} ${n === 1 ? one : (many || one + 's')}`; }
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
function parseTime(t) {
  if (!t) return null;
  const d = t instanceof Date ? t : new Date(t);
  return isNaN(d) ? null : d;
}
function fmtAgo(t) {
  const d = parseTime(t);
  if (!d) return 'never';
  const sec = (d.getTime() - Date.now()) / 1000;
  const a = Math.abs(sec);
  if (a < 10) return 'just now';
  if (a < 60) return rtf.format(Math.round(sec), 'second');
  if (a < 3600) return rtf.format(Math.round(sec / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(sec / 3600), 'hour');
  if (a < 86400 * 30) return rtf.format(Math.round(sec / 86400), 'day');
  if (a < 86400 * 365) return rtf.format(Math.round(sec / (86400 * 30.44)), 'month');
  return rtf.format(Math.round(sec / (86400 * 365.25)), 'year');
}
const exactFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const hourFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
function fmtExact(t) { const d = parseTime(t); return d ? exactFmt.format(d) : ''; }
function fmtShort(t) { const d = parseTime(t); return d ? shortFmt.format(d) : ''; }
// A time in words, with the exact local time on hover (kept fresh by a timer).
function timeAgo(t, prefix) {
  const d = parseTime(t);
  if (!d) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: d.toISOString(), title: fmtExact(d), 'data-ago': prefix || '' }, (prefix || '') + fmtAgo(d));
}
setInterval(() => {
  for (const el of document.querySelectorAll('time[data-ago]')) el.textContent = el.dataset.ago + fmtAgo(el.getAttribute('datetime'));
}, 20000);
function fmtDuration(sec) {
  if (sec == null || isNaN(sec)) return '';
  if (sec < 1) return 'less than a second';
  sec = Math.round(sec);
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60 ? (sec % 60) + ' s' : ''}`.trim();
  const hrs = Math.floor(sec / 3600), min = Math.round((sec % 3600) / 60);
  if (hrs < 48) return `${hrs} h ${min ? min + ' min' : ''}`.trim();
  return `${Math.round(hrs / 24)} days`;
}
function parentOf(p) {
  if (!p || p === '/') return '/';
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}
function baseName(p) {
  const t = (p || '').replace(/\/+$/, '');
  return t.slice(t.lastIndexOf('/') + 1) || '/';
}
// The value of an <input type=datetime-local> for a time (local time).
function localInputValue(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ======================================================================= API
class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}
const CODE_BY_STATUS = { 400: 'invalid argument', 401: 'unauthenticated', 403: 'forbidden', 404: 'not found', 409: 'locked', 413: 'too large', 421: 'wrong host', 429: 'too many requests', 503: 'unavailable', 507: 'no space' };

const state = {
  session: null, // {who, scope, ...} from /api/session
  csrf: '', // the session's CSRF token (see csrfStore)
  status: null, // last /api/status (stats kept from the last full answer)
  devices: null,
  jobs: new Map(), // id -> Job
  live: false,
  stats: null, // {at, data} cache of /api/stats
};
const bus = new EventTarget();
function emit(type, detail) { bus.dispatchEvent(new CustomEvent(type, { detail })); }

function apiUrl(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, v);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

// The session's CSRF token. The session cookie is HttpOnly; the server wants
// this second secret with every request of a cookie session (a header, or
// ?csrf= where a header cannot be set: downloads, the event stream). It comes
// from /api/login, from the login link's fragment (#csrf=...) or from
// /api/session, and is kept in this origin's storage so that other tabs of
// the dashboard work too. It is not the access token, which is never stored.
const CSRF_KEY = 'cairn.csrf';
const csrfStore = {
  get() { try { return localStorage.getItem(CSRF_KEY) || ''; } catch (e) { return ''; } },
  set(v) { state.csrf = v || ''; try { if (v) localStorage.setItem(CSRF_KEY, v); else localStorage.removeItem(CSRF_KEY); } catch (e) { /* private mode */ } },
};
function withCsrf(url) {
  return state.csrf ? `${url}${url.includes('?') ? '&' : '?'}csrf=${encodeURIComponent(state.csrf)}` : url;
}

async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.csrf) headers['X-CSRF-Token'] = state.csrf;
  let res;
  try {
    res = await fetch(apiUrl(path, opts.query), {
      method, headers, credentials: 'same-origin', cache: 'no-store', signal: opts.signal,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'no answer from cairn');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
  if (!res.ok) {
    const code = (data && data.code) || CODE_BY_STATUS[res.status] || 'internal';
    const msg = (data && data.error) || `${res.status} ${res.statusText}`;
    const err = new ApiError(res.status, code, msg, Number(res.headers.get('Retry-After')) || null);
    if (res.status === 403 && /csrf/i.test(msg)) {
      // Another tab logged in meanwhile: its token is in the storage.
      const stored = csrfStore.get();
      if (stored && stored !== state.csrf && !opts.retried) { state.csrf = stored; return api(path, Object.assign({}, opts, { retried: true })); }
      if (!opts.noAuthRedirect) sessionEnded();
    }
    if (res.status === 401 && !opts.noAuthRedirect) sessionEnded();
    throw err;
  }
  return data;
}

const ERROR_WORDS = {
  'invalid argument': 'That was not accepted',
  unauthenticated: 'You are not logged in (or your session has ended)',
  forbidden: 'The server refused this request. Reload the page if it happens again',
  'not found': 'Not found',
  'wrong host': 'The server does not answer to this address: open the dashboard with the link that cairn printed',
  locked: 'The backup repository is busy with another operation. Try again in a moment',
  'too large': 'The request is too large',
  'too many requests': 'Too many attempts',
  unavailable: 'The backup repository cannot be reached right now',
  internal: 'Something went wrong inside cairn',
  'already exists': 'Something is already there',
  'permission denied': 'Permission denied',
  'no space': 'The disk is full',
  corruption: 'Damaged data was found (run "cairn check" to know more)',
  'io error': 'Reading or writing failed',
};
function errorText(err) {
  if (!err) return '';
  if (err.code === 'network') return 'cairn is not answering. Is "cairn run" or "cairn serve" still running on this computer?';
  if (!(err instanceof ApiError)) return `Something went wrong in this page: ${err.message || err}`;
  const head = ERROR_WORDS[err.code] || 'Error';
  let msg = err.message ? `${head}: ${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}` : head;
  msg = msg.replace(/`([^`]*)`/g, '"$1"');
  if (!/[.!?]$/.test(msg)) msg += '.';
  if (err.retryAfter) msg += ` Try again in ${plural(err.retryAfter, 'second')}.`;
  return msg;
}
function errorBox(err, retry) {
  return h('div', { class: 'notice error', role: 'alert' }, errorText(err),
    retry ? [' ', h('button', { class: 'small', type: 'button', onclick: retry }, 'Try again')] : null);
}

function downloadHref(id) { return withCsrf(`/api/download/${encodeURIComponent(id)}`); }

// ==================================================================== router
function href(page, params) {
  const q = new URLSearchParams();
  if (params) for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
  const qs = q.toString();
  return `#/${page}${qs ? '?' + qs : ''}`;
}
function go(page, params, replace) {
  const target = href(page, params);
  if (replace) { history.replaceState(null, '', target); route(); } else location.hash = target;
}
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const i = raw.indexOf('?');
  const name = (i < 0 ? raw : raw.slice(0, i)) || 'overview';
  return { name, params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

// Each page gets a scope: its listeners and timers end when the page is left.
class Scope {
  constructor() { this.fns = []; this.ctrl = new AbortController(); this.signal = this.ctrl.signal; }
  on(type, fn) { bus.addEventListener(type, fn); this.fns.push(() => bus.removeEventListener(type, fn)); }
  every(ms, fn) { const t = setInterval(fn, ms); this.fns.push(() => clearInterval(t)); }
  add(fn) { this.fns.push(fn); }
  get dead() { return this.signal.aborted; }
  dispose() { this.ctrl.abort(); for (const f of this.fns) { try { f(); } catch (e) { /* ignore */ } } this.fns = []; }
}
let scope = null;

const NAV = [
  ['overview', 'Overview', 'overview'],
  ['files', 'Files', 'files'],
  ['search', 'Search', 'search'],
  ['backup', 'Back up', 'backup'],
  ['activity', 'Activity', 'activity'],
  ['settings', 'Settings', 'settings'],
];
const PAGES = {};
let shell = null;

function route() {
  if (!shell) return;
  const { name, params } = parseHash();
  const page = PAGES[name] ? name : 'overview';
  const navName = page === 'timeline' ? (params.get('from') === 'search' ? 'search' : 'files') : page;
  for (const a of shell.nav.querySelectorAll('a')) {
    if (a.dataset.page === navName) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (scope) scope.dispose();
  scope = new Scope();
  const main = clear(shell.main);
  const run = PAGES[page](main, params, scope);
  if (run && run.catch) run.catch((e) => { if (e.name !== 'AbortError' && !scope.dead) main.appendChild(errorBox(e)); });
  const h1 = main.querySelector('h1');
  if (h1 && shell.moved) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
  shell.moved = true;
  window.scrollTo(0, 0);
}
window.addEventListener('hashchange', route);

function pageHead(title, ...extra) {
  document.title = `${title} · cairn`;
  return h('div', { class: 'pagehead' }, h('h1', null, title), extra);
}

// ============================================================ live updates
let events = null;
let eventsRetry = null;
function startEvents() {
  stopEvents();
  if (!window.EventSource) return;
  events = new EventSource(withCsrf('/api/events'));
  events.addEventListener('open', () => setLive(true));
  events.addEventListener('job', (e) => { try { handleJob(JSON.parse(e.data)); } catch (err) { /* ignore */ } });
  events.addEventListener('status', (e) => { try { handleStatus(JSON.parse(e.data)); } catch (err) { /* ignore */ } });
  events.addEventListener('error', () => {
    setLive(false);
    if (events && events.readyState === EventSource.CLOSED) {
      // The browser gave up (an error status): check the session, then retry.
      events = null;
      eventsRetry = setTimeout(async () => {
        try { await api('/api/session'); startEvents(); } catch (e) { if (e.status !== 401) eventsRetry = setTimeout(startEvents, 10000); }
      }, 5000);
    }
  });
}
function stopEvents() {
  if (events) events.close();
  events = null;
  clearTimeout(eventsRetry);
  setLive(false);
}
function setLive(on) {
  state.live = on;
  if (!shell) return;
  shell.live.className = `live ${on ? 'on' : 'off'}`;
  shell.live.textContent = on ? 'Live' : 'Reconnecting…';
  shell.live.title = on ? 'Progress and status update by themselves' : 'Live updates are interrupted; the page checks every few seconds instead';
}
function handleJob(job) {
  if (!job || !job.id) return;
  // A fast job may end (event stream) before the POST that started it has
  // answered: a finished job never goes back to running.
  const known = state.jobs.get(job.id);
  if (known && !isActive(known) && isActive(job)) return;
  state.jobs.set(job.id, job);
  emit('job', job);
  updateJobPill();
}
function handleStatus(st) {
  if (!st) return;
  const prev = state.status || {};
  state.status = Object.assign({}, prev, st, { stats: st.stats || prev.stats });
  if (Array.isArray(st.jobs)) for (const j of st.jobs) handleJob(j);
  if (shell) shell.device.textContent = state.status.device ? `device: ${state.status.device}` : '';
  emit('status', state.status);
}
async function refreshStatus() {
  try { handleStatus(await api('/api/status')); } catch (e) { /* shown by pages that need it */ }
}
async function refreshJobs() {
  const data = await api('/api/jobs');
  const list = Array.isArray(data) ? data : (data && data.jobs) || [];
  for (const j of list.slice().reverse()) handleJob(j);
  return list;
}
function isActive(job) { return job.state === 'running' || job.state === 'queued'; }
// Without the event stream, poll what is running.
let pollTick = 0;
setInterval(async () => {
  if (!shell || state.live) return;
  pollTick++;
  const active = [...state.jobs.values()].filter(isActive);
  for (const j of active.slice(0, 8)) {
    try { handleJob(await api(`/api/jobs/${encodeURIComponent(j.id)}`)); } catch (e) { /* next time */ }
  }
  if (pollTick % 5 === 0) refreshStatus();
}, 2000);
function updateJobPill() {
  if (!shell) return;
  const n = [...state.jobs.values()].filter(isActive).length;
  shell.pill.hidden = n === 0;
  shell.pill.textContent = n === 1 ? '1 job running' : `${n} jobs running`;
}

// ===================================================================== jobs
const KIND_WORDS = { backup: 'Backup', restore: 'Restore', cleanup: 'Cleanup' };
const STATE_BADGE = { queued: ['Waiting', 'info'], running: ['Running', 'info'], succeeded: ['Done', 'ok'], failed: ['Failed', 'bad'], cancelled: ['Cancelled', 'warn'] };

function progressLine(p) {
  if (!p) return '';
  const parts = [];
  if (p.phase) parts.push(p.phase.charAt(0).toUpperCase() + p.phase.slice(1));
  if (p.files_total) parts.push(`${fmtCount(p.files_done)} of ${plural(p.files_total, 'file')}`);
  else if (p.files_done) parts.push(plural(p.files_done, 'file'));
  if (p.bytes_total) parts.push(`${fmtBytes(p.bytes_done)} of ${fmtBytes(p.bytes_total)}`);
  else if (p.bytes_done) parts.push(fmtBytes(p.bytes_done));
  if (p.bytes_per_second > 0) parts.push(`${fmtBytes(p.bytes_per_second)}/s`);
  if (p.eta_seconds != null && p.eta_seconds >= 1) parts.push(`about ${fmtDuration(p.eta_seconds)} left`);
  return parts.join(' · ');
}
function fraction(p) {
  if (!p) return null;
  if (p.bytes_total > 0) return Math.min(1, p.bytes_done / p.bytes_total);
  if (p.files_total > 0) return Math.min(1, p.files_done / p.files_total);
  if (p.units_total > 0) return Math.min(1, p.units_done / p.units_total);
  return null;
}
// A count that is a number, or a list (of messages) to count.
function countOf(x) { return Array.isArray(x) ? x.length : Number(x) || 0; }
function resultLine(job) {
  const r = job.result;
  if (!r || typeof r !== 'object') return '';
  if (job.kind === 'backup') {
    const bits = [];
    const changed = (r.files_new || 0) + (r.files_changed || 0);
    const files = `${fmtCount(r.files_new || 0)} new, ${fmtCount(r.files_changed || 0)} changed`;
    bits.push(changed ? (r.files_unchanged != null ? `${files}, ${fmtCount(r.files_unchanged)} unchanged files` : `${files} files`) : 'no file had changed');
    if (r.deleted) bits.push(`${plural(r.deleted, 'deletion')} recorded`);
    if (r.bytes_stored != null) bits.push(`${fmtBytes(r.bytes_stored)} stored`);
    if (countOf(r.errors)) bits.push(`${plural(countOf(r.errors), 'file')} could not be read`);
    return `Backed up${r.seconds != null ? ' in ' + fmtDuration(r.seconds) : ''}: ${bits.join('; ')}.`;
  }
  if (job.kind === 'restore') {
    let t = r.files || !r.already_present ? `Restored ${plural(r.files || 0, 'file')} (${fmtBytes(r.bytes || 0)})${r.target ? ` into ${r.target}.` : ' to the original place.'}` : 'Nothing needed restoring.';
    const skipped = countOf(r.skipped != null ? r.skipped : r.skipped_existing);
    if (skipped) t += ` ${plural(skipped, 'file')} already there ${skipped === 1 ? 'was' : 'were'} kept (not overwritten).`;
    if (r.already_present) t += ` ${plural(r.already_present, 'file')} ${r.already_present === 1 ? 'was' : 'were'} already exactly this version.`;
    if (countOf(r.errors)) t += ` ${plural(countOf(r.errors), 'file')} could not be restored.`;
    else if (r.verified) t += ' Every byte was checked.';
    return t;
  }
  if (job.kind === 'cleanup') {
    const bits = [];
    if (r.versions_dropped != null) bits.push(`${plural(r.versions_dropped, 'old version')} removed`);
    if (r.bytes_freed != null) bits.push(`${fmtBytes(r.bytes_freed)} freed`);
    return bits.length ? `Cleaned up: ${bits.join(', ')}.` : 'Cleaned up.';
  }
  return '';
}

// A job's card, updated in place.
function jobCard(job) {
  const title = h('div', { class: 'title' });
  const badge = h('span', { class: 'badge' });
  const when = h('span', { class: 'muted small' });
  const cancel = h('button', { type: 'button', class: 'small', onclick: async () => {
    cancel.disabled = true;
    try { await api(`/api/jobs/${encodeURIComponent(cur.id)}/cancel`, { method: 'POST' }); } catch (e) { err.replaceChildren(errorBox(e)); cancel.disabled = false; }
  } }, 'Cancel');
  const fill = h('div');
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, fill);
  const detail = h('div', { class: 'detail' });
  const result = h('div', { class: 'result' });
  const issues = h('div');
  const err = h('div');
  const el = h('div', { class: 'job', 'data-job': job.id }, h('div', { class: 'head' }, title, badge, when, cancel), bar, detail, result, issues, err);
  let cur = job;
  function update(j) {
    cur = j;
    const kind = KIND_WORDS[j.kind] || j.kind || 'Job';
    title.textContent = j.description ? `${kind}: ${localizeTimes(j.description.replace(/^(back up|restore|cleanup)\s+/i, '').replace(/\s*\(version [0-9a-f]{24}\)/, ''))}` : kind;
    bar.setAttribute('aria-label', `${kind} progress`);
    const [word, cls] = STATE_BADGE[j.state] || [j.state, ''];
    badge.textContent = word;
    badge.className = `badge ${cls}`;
    clear(when, j.ended ? timeAgo(j.ended, 'ended ') : j.started ? timeAgo(j.started, 'started ') : null);
    const active = isActive(j);
    cancel.hidden = !active;
    const f = fraction(j.progress);
    bar.hidden = !active && j.state !== 'succeeded';
    if (j.state === 'succeeded') {
      bar.className = 'bar ok'; fill.style.width = '100%'; bar.setAttribute('aria-valuenow', '100');
    } else if (f == null) {
      bar.className = 'bar indeterminate'; fill.style.width = ''; bar.removeAttribute('aria-valuenow');
    } else {
      bar.className = 'bar'; fill.style.width = `${(f * 100).toFixed(1)}%`; bar.setAttribute('aria-valuenow', String(Math.round(f * 100)));
    }
    detail.textContent = active ? progressLine(j.progress) : (j.started && j.ended ? `Took ${fmtDuration((parseTime(j.ended) - parseTime(j.started)) / 1000)}` : '');
    result.textContent = j.state === 'succeeded' ? resultLine(j) : '';
    clear(err, j.state === 'failed' && j.error ? h('div', { class: 'notice error', role: 'alert' }, `It failed: ${localizeTimes(j.error)}`) : null,
      j.state === 'cancelled' ? h('div', { class: 'notice warn' }, 'Cancelled. What it had finished is kept.') : null);
    // Issues as they happened, else the messages of the result.
    let list = Array.isArray(j.issues) ? j.issues : [];
    const res = j.result || {};
    if (!list.length) {
      const msgs = (x, severity) => (Array.isArray(x) ? x : []).map((m) => (typeof m === 'string' ? { severity, message: m } : m));
      list = [...msgs(res.errors, 'error'), ...msgs(res.warnings, 'warning'), ...msgs(res.metadata_warnings, 'warning')];
    }
    const count = Math.max(Array.isArray(j.issues) && j.issues.length ? j.issue_count || 0 : 0, list.length);
    if (count) {
      const shown = list.slice(0, 5);
      clear(issues, h('ul', { class: 'issues' },
        shown.map((i) => h('li', null, h('span', { class: `badge ${i.severity === 'warning' ? 'warn' : 'bad'}` }, i.severity === 'warning' ? 'warning' : 'error'), ' ',
          i.path ? h('code', null, i.path) : null, i.path ? ': ' : '', i.message || '')),
        count > shown.length ? h('li', { class: 'muted' }, `and ${fmtCount(count - shown.length)} more`) : null));
    } else issues.replaceChildren();
  }
  update(job);
  return { el, update, get job() { return cur; } };
}

// A live list of jobs: those `filter` accepts, newest first.
function jobList(sc, filter, opts = {}) {
  const box = h('div', { class: 'jobs', 'aria-live': 'polite' });
  const cards = new Map();
  const empty = h('p', { class: 'muted' }, opts.empty || 'No jobs.');
  function render() {
    const jobs = [...state.jobs.values()].filter(filter).sort((a, b) => String(b.started || '').localeCompare(String(a.started || '')) || jobNumber(b) - jobNumber(a)).slice(0, opts.max || 50);
    const els = jobs.map((j) => {
      let c = cards.get(j.id);
      if (!c) { c = jobCard(j); cards.set(j.id, c); } else c.update(j);
      return c.el;
    });
    clear(box, els.length ? els : opts.empty === null ? null : empty);
  }
  sc.on('job', (e) => {
    const c = cards.get(e.detail.id);
    if (c && filter(e.detail)) c.update(e.detail); else render();
  });
  render();
  return box;
}
function jobNumber(j) { return Number(String(j.id).replace(/\D/g, '')) || 0; }

// ============================================================== restore UI
// The restore dialog: where to, a preview (what would be overwritten), then
// the restore itself with live progress. `items` are FileVersions.
function openRestoreDialog(items, onStarted) {
  const dlg = h('dialog', { 'aria-labelledby': 'rd-title' });
  const body = h('div', { class: 'dbody' });
  dlg.appendChild(body);
  document.body.appendChild(dlg);
  const sc = new Scope();
  dlg.addEventListener('close', () => { sc.dispose(); dlg.remove(); });

  const n = items.length;
  const one = items[0];
  const title = n === 1 ? `Restore ${one.name || baseName(one.path)}` : `Restore ${n} items`;
  const what = h('div', { class: 'scrollbox' }, h('ul', null, items.map((v) => h('li', null,
    h('code', null, v.path), ' ', h('span', { class: 'muted' }, `as it was ${fmtShort(v.backup_time)}`, v.device ? ` (${v.device})` : '', v.type === 'dir' ? ' — the whole folder' : '')))));

  const toPlace = h('input', { type: 'radio', name: 'rd-where', id: 'rd-place', checked: true });
  const toOther = h('input', { type: 'radio', name: 'rd-where', id: 'rd-other' });
  const target = h('input', { type: 'text', id: 'rd-target', placeholder: '/home/you/Restored', autocomplete: 'off', spellcheck: 'false', style: { width: '100%' }, 'aria-describedby': 'rd-target-help' });
  const targetHelp = h('div', { id: 'rd-target-help', class: 'small muted' }, 'A full path starting with "/", created if needed. The check below shows where each item lands.');
  const targetRow = h('div', { class: 'field' }, h('label', { for: 'rd-target' }, 'Folder'), target, targetHelp);
  targetRow.hidden = true;
  const where = h('fieldset', null, h('legend', null, 'Where to'),
    h('label', { class: 'check', for: 'rd-place' }, toPlace, n === 1 ? 'Back to its original place' : 'Back to their original places'),
    h('label', { class: 'check', for: 'rd-other' }, toOther, 'As a copy in another folder'),
    targetRow);

  const out = h('div', { 'aria-live': 'polite' });
  const previewBtn = h('button', { type: 'button', class: 'primary' }, 'Check what will happen');
  const restoreBtn = h('button', { type: 'button', class: 'primary', hidden: true }, 'Restore');
  const closeBtn = h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel');
  const buttons = h('div', { class: 'row end' }, closeBtn, previewBtn, restoreBtn);
  clear(body, h('h2', { id: 'rd-title' }, title), what, where, out, buttons);

  let overwrite = null; // null: no choice needed / made yet
  let needChoice = false;
  function invalidate() {
    targetRow.hidden = !toOther.checked;
    out.replaceChildren();
    restoreBtn.hidden = true;
    previewBtn.hidden = false;
    overwrite = null;
  }
  toPlace.addEventListener('change', invalidate);
  toOther.addEventListener('change', () => { invalidate(); target.focus(); });
  target.addEventListener('input', invalidate);

  function targetValue() {
    if (!toOther.checked) return { ok: true, body: {} };
    const t = target.value.trim();
    if (!t.startsWith('/')) return { ok: false, msg: 'Type the folder as a full path starting with "/", for example /home/you/Restored.' };
    return { ok: true, body: { target: t } };
  }

  previewBtn.addEventListener('click', async () => {
    const tv = targetValue();
    if (!tv.ok) { clear(out, h('div', { class: 'notice error', role: 'alert' }, tv.msg)); target.focus(); return; }
    previewBtn.disabled = true;
    clear(out, h('p', { class: 'muted' }, 'Checking…'));
    const results = await Promise.all(items.map((v) => api(`/api/restore/${encodeURIComponent(v.id)}/preview`, { method: 'POST', body: tv.body, signal: sc.signal })
      .then((r) => ({ v, r }), (e) => ({ v, e }))));
    previewBtn.disabled = false;
    if (sc.dead) return;
    const failed = results.filter((x) => x.e);
    const okr = results.filter((x) => x.r);
    const files = okr.reduce((a, x) => a + (x.r.files || 0), 0);
    const bytes = okr.reduce((a, x) => a + (x.r.bytes || 0), 0);
    const owCount = okr.reduce((a, x) => a + (x.r.would_overwrite_count || 0), 0);
    const owList = okr.flatMap((x) => x.r.would_overwrite || []);
    const targets = [...new Set(okr.map((x) => x.r.target).filter(Boolean))];
    const parts = [];
    for (const f of failed) parts.push(h('div', { class: 'notice error', role: 'alert' }, h('code', null, f.v.path), ': ', errorText(f.e)));
    if (okr.length) {
      parts.push(h('p', null, `This restores ${plural(files, 'file')} (${fmtBytes(bytes)})`, targets.length === 1 ? [' to ', h('code', { class: 'break' }, targets[0])] : ':', targets.length === 1 ? '.' : ''));
      if (targets.length > 1) parts.push(h('div', { class: 'scrollbox' }, h('ul', null, okr.map((x) => h('li', null, h('code', null, x.v.path), ' → ', h('code', null, x.r.target || x.v.path))))));
      needChoice = owCount > 0;
      if (needChoice) {
        const listed = owList.length;
        const repl = h('input', { type: 'radio', name: 'rd-ow', id: 'rd-ow-yes', onchange: () => { overwrite = true; restoreBtn.disabled = false; } });
        const keep = h('input', { type: 'radio', name: 'rd-ow', id: 'rd-ow-no', onchange: () => { overwrite = false; restoreBtn.disabled = false; } });
        parts.push(h('div', { class: 'notice warn' },
          h('p', null, h('strong', null, `${plural(owCount, 'file')} already ${owCount === 1 ? 'exists' : 'exist'} there`), ' and would be replaced:'),
          h('div', { class: 'scrollbox' }, h('ul', null, owList.map((p) => h('li', null, p)))),
          owCount > listed ? h('p', { class: 'small muted' }, `…and ${fmtCount(owCount - listed)} more.`) : null,
          h('fieldset', null, h('legend', null, 'What should happen to them?'),
            h('label', { class: 'check', for: 'rd-ow-yes' }, repl, 'Replace them with the backed-up version'),
            h('label', { class: 'check', for: 'rd-ow-no' }, keep, 'Keep the current files (only missing files are restored)')),
          h('p', { class: 'small muted' }, 'Replacing is not final: the current files stay in the history if they were backed up.')));
      } else {
        overwrite = false;
        parts.push(h('div', { class: 'notice ok' }, 'No existing file is overwritten.'));
      }
      restoreBtn.hidden = false;
      restoreBtn.disabled = needChoice;
      restoreBtn.textContent = okr.length < items.length ? `Restore the other ${okr.length}` : 'Restore';
      previewBtn.hidden = true;
    }
    clear(out, parts);
    (restoreBtn.hidden ? previewBtn : restoreBtn).focus();
  });

  restoreBtn.addEventListener('click', async () => {
    const tv = targetValue();
    if (!tv.ok || (needChoice && overwrite == null)) return;
    restoreBtn.disabled = true;
    where.disabled = true;
    const bodyJson = Object.assign({}, tv.body, { overwrite: !!overwrite });
    const started = new Set();
    const errs = [];
    for (const v of items) {
      try {
        const job = await api(`/api/restore/${encodeURIComponent(v.id)}`, { method: 'POST', body: bodyJson });
        if (job && job.id) { started.add(job.id); handleJob(job); }
      } catch (e) { errs.push(h('div', { class: 'notice error', role: 'alert' }, h('code', null, v.path), ': ', errorText(e))); }
    }
    restoreBtn.hidden = true;
    closeBtn.textContent = 'Close';
    if (started.size && onStarted) onStarted();
    clear(out, errs, started.size ? h('p', null, started.size === 1 ? 'Restoring. You can close this window: the restore goes on, and the Activity page shows it.' : `Restoring ${started.size} items. You can close this window: the restores go on, and the Activity page shows them.`) : null,
      started.size ? jobList(sc, (j) => started.has(j.id), { empty: null }) : null);
    closeBtn.focus();
  });

  dlg.showModal();
  previewBtn.focus();
}

// ================================================================== charts
function niceStep(max, n) {
  if (max <= 0) return 1;
  const raw = max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}
function niceByteStep(max, n) {
  if (max <= 0) return 1;
  const unit = Math.pow(1024, Math.max(0, Math.floor(Math.log(max) / Math.log(1024))));
  return niceStep(max / unit, n) * unit;
}
// A responsive chart: `draw(width)` builds the SVG at the container's width.
function chartBox(sc, label, draw) {
  const box = h('div', { class: 'chart' });
  let lastW = 0;
  const paint = () => {
    const w = Math.max(260, Math.floor(box.clientWidth || 600));
    if (w === lastW) return;
    lastW = w;
    const svg = draw(w);
    svg.setAttribute('aria-label', label);
    clear(box, svg);
  };
  if (window.ResizeObserver) {
    const ro = new ResizeObserver(() => paint());
    ro.observe(box);
    sc.add(() => ro.disconnect());
  }
  requestAnimationFrame(paint);
  return box;
}
function yAxis(g, { w, top, plotH, left, max, step, fmt }) {
  for (let v = 0; v <= max + step / 1e6; v += step) {
    const y = top + plotH - (v / max) * plotH;
    g.appendChild(s('line', { x1: left, x2: w - 8, y1: y, y2: y, class: 'grid-line' }));
    g.appendChild(s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v)));
  }
}
function lineChart(points, w) {
  const H = 210, left = 62, top = 12, bottom = 26;
  const plotW = w - left - 10, plotH = H - top - bottom;
  const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, role: 'img' });
  if (!points.length) return svg;
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const vmax = Math.max(...points.map((p) => p.v), 1);
  const step = niceByteStep(vmax, 4);
  const max = Math.ceil(vmax / step) * step;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => top + plotH - (v / max) * plotH;
  yAxis(svg, { w, top, plotH, left, max, step, fmt: fmtBytes });
  let d = '';
  points.forEach((p, i) => { d += `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`; });
  svg.appendChild(s('path', { d: `${d}L${x(points[points.length - 1].t).toFixed(1)},${y(0)}L${x(t0).toFixed(1)},${y(0)}Z`, class: 'area' }));
  svg.appendChild(s('path', { d, class: 'line' }));
  svg.appendChild(s('line', { x1: left, x2: w - 8, y1: y(0), y2: y(0), class: 'axis' }));
  const ticks = Math.max(2, Math.min(6, Math.floor(plotW / 110)));
  const xFmt = t1 - t0 < 36 * 3600e3 ? hourFmt : dayFmt;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    svg.appendChild(s('text', { x: x(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, xFmt.format(new Date(t))));
  }
  const every = Math.max(1, Math.ceil(points.length / 150));
  points.forEach((p, i) => {
    if (i % every && i !== points.length - 1) return;
    svg.appendChild(s('circle', { cx: x(p.t), cy: y(p.v), r: 5, class: 'dot' }, s('title', null, `${fmtShort(new Date(p.t))}: ${fmtBytes(p.v)} stored in all${p.files != null ? `, ${plural(p.files, 'file')}` : ''}`)));
  });
  return svg;
}
function barChart(days, w) {
  const H = 190, left = 44, top = 12, bottom = 26;
  const plotW = w - left - 10, plotH = H - top - bottom;
  const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, role: 'img' });
  if (!days.length) return svg;
  const vmax = Math.max(...days.map((d) => d.count), 1);
  const step = niceStep(vmax, 4);
  const max = Math.ceil(vmax / step) * step;
  yAxis(svg, { w, top, plotH, left, max, step: Math.max(1, step), fmt: (v) => fmtCount(Math.round(v)) });
  const bw = plotW / days.length;
  days.forEach((d, i) => {
    const bh = (d.count / max) * plotH;
    const date = new Date(`${d.day}T12:00:00`);
    svg.appendChild(s('rect', { x: left + i * bw + bw * 0.12, y: top + plotH - bh, width: Math.max(1, bw * 0.76), height: Math.max(d.count ? 1 : 0, bh), class: 'col' },
      s('title', null, `${isNaN(date) ? d.day : dayFmt.format(date)}: ${plural(d.count, 'backup')}${d.bytes_stored != null ? `, ${fmtBytes(d.bytes_stored)} stored` : ''}`)));
  });
  svg.appendChild(s('line', { x1: left, x2: w - 8, y1: top + plotH, y2: top + plotH, class: 'axis' }));
  const ticks = Math.max(2, Math.min(6, Math.floor(plotW / 110)));
  for (let i = 0; i <= ticks; i++) {
    const idx = Math.min(days.length - 1, Math.round(((days.length - 1) * i) / ticks));
    const date = new Date(`${days[idx].day}T12:00:00`);
    svg.appendChild(s('text', { x: left + idx * bw + bw / 2, y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, isNaN(date) ? days[idx].day : dayFmt.format(date)));
  }
  return svg;
}

// ================================================================ overview
// A server text where `backticks` mark commands: those as <code>.
function richText(text) {
  return String(text || '').split('`').map((part, i) => (i % 2 ? h('code', null, part) : part));
}
function stripLead(summary) {
  const t = String(summary || '').replace(/^\s*(protected|attention( needed)?|not protected|warning)\s*[:.—-]\s*/i, '');
  return t.charAt(0).toUpperCase() + t.slice(1);
}
// Times inside the server's texts (RFC 3339, UTC) shown as local times.
function localizeTimes(text) {
  return String(text || '').replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, (m) => fmtShort(m) || m);
}
PAGES.overview = async (main, params, sc) => {
  main.appendChild(pageHead('Overview'));
  const hero = h('section', { class: 'hero', 'aria-live': 'polite', 'aria-label': 'Protection status' });
  const cards = h('div', { class: 'grid' });
  const storage = h('section', { class: 'card', 'aria-labelledby': 'ov-storage' });
  const history = h('section', { class: 'card', 'aria-labelledby': 'ov-history' });
  append(main, hero, cards, storage, history);
  const err = h('div');
  main.insertBefore(err, hero);

  let st = state.status;
  if (!st) {
    hero.appendChild(h('p', { class: 'muted' }, 'Loading…'));
    try { handleStatus(await api('/api/status', { signal: sc.signal })); } catch (e) { if (!sc.dead) err.appendChild(errorBox(e, () => route())); return; }
  } else refreshStatus();
  if (sc.dead) return;

  // Made once: a list subscribes to job events for the page's life.
  const running = jobList(sc, (j) => isActive(j), { empty: null, max: 3 });
  const drawTop = () => {
    st = state.status;
    drawHero(hero, st, sc);
    drawCards(cards, st, running);
    drawStorage(storage, st, sc);
  };
  drawTop();
  sc.on('status', drawTop);
  sc.on('stats', () => drawStorage(storage, state.status, sc));
  drawHistory(history, sc);
};

function drawHero(hero, st) {
  const never = !st.last_backup;
  let cls = st.protected ? 'ok' : 'bad';
  let title = st.protected ? 'Your files are protected' : 'Attention needed';
  let sign = st.protected ? 'check' : 'alert';
  if (st.paused) { cls = 'paused'; title = 'Protection is paused'; sign = 'pause'; }
  hero.className = `hero ${cls}`;
  const reasons = [...(st.errors || []), ...(st.warnings || [])];
  const pauseBtn = st.mode === 'run' ? (st.paused
    ? h('button', { type: 'button', class: 'primary', onclick: (e) => post(e.currentTarget, '/api/resume', undefined) }, 'Resume protection')
    : h('button', { type: 'button', class: 'small', title: 'Stop backing up for one hour (a video call, a metered connection)', onclick: (e) => post(e.currentTarget, '/api/pause', { seconds: 3600 }) }, 'Pause for 1 hour')) : null;
  const msg = h('div');
  clear(hero,
    h('div', { class: 'sign' }, icon(sign, 'ico-sign')),
    h('div', { class: 'body' },
      h('h2', null, title),
      h('p', { class: 'summary' }, stripLead(st.summary) ? richText(stripLead(st.summary)) : (never ? 'Nothing has been backed up yet.' : '')),
      st.paused && st.paused_until ? h('p', null, 'Protection resumes by itself ', timeAgo(st.paused_until), ` (${fmtExact(st.paused_until)}).`) : null,
      !never ? h('p', { class: 'muted' }, 'Last successful backup: ', timeAgo(st.last_backup), ` (${fmtExact(st.last_backup)})`) : null,
      !st.protected && reasons.length ? h('ul', null, reasons.slice(0, 4).map((r) => h('li', null, richText(r))),
        reasons.length > 4 ? h('li', null, h('a', { href: href('activity') }, `${reasons.length - 4} more on the Activity page`)) : null) : null,
      !st.protected && !st.paused ? h('p', null, h('a', { class: 'button primary', href: href('backup') }, icon('backup'), 'Back up now…'), ' ', h('a', { href: href('activity') }, 'See the activity')) : null,
      msg),
    pauseBtn);
  async function post(btn, path, body) {
    btn.disabled = true;
    try { await api(path, { method: 'POST', body }); await refreshStatus(); } catch (e) { clear(msg, errorBox(e)); btn.disabled = false; }
  }
}

function drawCards(cards, st, runningList) {
  const folders = st.folders || [];
  const watch = h('section', { class: 'card', 'aria-labelledby': 'ov-folders' },
    h('h2', { id: 'ov-folders' }, st.mode === 'serve' ? 'Backed-up folders' : 'Watched folders'),
    st.mode === 'serve' ? h('p', { class: 'small muted' }, 'This is "cairn serve": it shows and restores backups, and does not watch for changes.') : null,
    folders.length ? h('ul', { class: 'plain' }, folders.map((f) => h('li', null, h('a', { href: href('files', { path: f }) }, icon('folder', 'ico dir'), ' ', f))))
      : h('p', { class: 'muted' }, 'No folder is configured.'),
    st.mode === 'run' ? h('p', { class: 'small muted' }, st.watching ? 'Changes are backed up within seconds.'
      : st.starting ? 'Starting: opening the repository and setting up the watches on these folders…' : 'Not watching for changes right now.') : null);
  const running = [...state.jobs.values()].filter(isActive);
  const serve = st.mode === 'serve';
  const queue = h('section', { class: 'card', 'aria-labelledby': 'ov-queue' },
    h('h2', { id: 'ov-queue' }, 'Right now'),
    serve ? h('p', { class: 'bigstat' }, running.length ? plural(running.length, 'job') + ' running' : 'Nothing running')
      : h('p', { class: 'bigstat' }, st.queued ? plural(st.queued, 'change') : 'Nothing waiting'),
    serve ? h('p', { class: 'muted small' }, 'Changes are backed up when you ask for it (or by "cairn run" elsewhere).')
      : h('p', { class: 'muted small' }, st.queued ? 'waiting to be backed up' : 'Every change seen so far is backed up.'),
    st.running && !running.length ? h('p', null, 'Running: ', st.running) : null,
    runningList,
    st.last_run && st.last_run.summary ? h('p', { class: 'small muted break' }, 'Last run: ', st.last_run.summary) : null,
    scheduled(st),
    h('p', null, h('a', { href: href('backup') }, 'Back up now…')));
  const stats = st.stats || {};
  const devs = stats.devices || 0;
  const count = h('section', { class: 'card', 'aria-labelledby': 'ov-count' },
    h('h2', { id: 'ov-count' }, 'In the backup'),
    h('p', { class: 'bigstat' }, plural(stats.files || 0, 'file')),
    h('p', { class: 'muted small' }, `${plural(stats.versions || 0, 'version')} kept${devs > 1 ? `, from ${devs} devices` : ''}`),
    h('p', null, h('a', { href: href('search') }, 'Find a file…')));
  clear(cards, watch, queue, count);
}

const JOB_NAMES = { 'full-pass': 'Full check of every folder', cleanup: 'Cleanup of old versions', compaction: 'Catalog compaction', 'restore-sample': 'Restore test' };
// The daemon's scheduled work ("cairn run" only).
function scheduled(st) {
  const jobs = (st.daemon && Array.isArray(st.daemon.jobs) ? st.daemon.jobs : []).filter((j) => j.next_due);
  if (!jobs.length) return null;
  return h('details', { class: 'small' }, h('summary', null, 'Scheduled'),
    h('ul', { class: 'plain' }, jobs.map((j) => h('li', null, `${JOB_NAMES[j.name] || j.name}: `, timeAgo(j.next_due)))));
}
function drawStorage(box, st, sc) {
  const stats = st.stats || {};
  const latest = stats.latest_bytes || 0, stored = stats.stored_bytes || 0;
  const detail = h('div', { 'aria-live': 'polite' });
  const kv = h('dl', { class: 'kv' },
    h('dt', null, 'Your files today'), h('dd', null, fmtBytes(latest), h('span', { class: 'muted small' }, ' (the newest version of each)')),
    h('dt', null, 'Repository size'), h('dd', null, fmtBytes(stored), h('span', { class: 'muted small' }, ` for every version${stats.versions ? ' (' + fmtCount(stats.versions) + ')' : ''}`)));
  let saving = null;
  if (latest > 0 && stored > 0 && stored < latest) {
    saving = h('p', null, `Thanks to deduplication and compression, the whole history takes ${Math.round((1 - stored / latest) * 100)}% less space than your files do today.`);
  } else if (latest > 0 && stored > 0) {
    saving = h('p', { class: 'muted small' }, `The history of every version takes ${(stored / latest).toFixed(1)}× the size of your files today.`);
  }
  clear(box, h('h2', { id: 'ov-storage' }, 'Storage'), st.repository ? h('p', { class: 'small muted break' }, 'Repository: ', h('code', null, st.repository)) : null, kv, saving, detail);
  const cached = state.stats && Date.now() - state.stats.at < 300000 ? state.stats.data : null;
  const failed = state.stats && state.stats.error;
  const showDetail = (d) => {
    const sp = d.space || {};
    const spErr = d.space_error || sp.error;
    clear(detail, spErr ? h('p', { class: 'muted small' }, `Space details unknown: ${spErr}`)
      : h('dl', { class: 'kv' },
        sp.cleanup_would_free != null ? [h('dt', null, 'A cleanup would free'), h('dd', null, fmtBytes(sp.cleanup_would_free), h('span', { class: 'muted small' }, ' (old versions past the retention rules)'))] : null,
        sp.bytes_unused ? [h('dt', null, 'Unused space'), h('dd', null, fmtBytes(sp.bytes_unused))] : null,
        d.packs != null ? [h('dt', null, 'Stored in'), h('dd', null, `${plural(d.packs, 'pack file')}, ${plural(d.chunks || 0, 'chunk')}`)] : null));
  };
  if (cached) showDetail(cached);
  else if (state.statsLoading) clear(detail, h('p', { class: 'muted small' }, 'Measuring the repository…'));
  else {
    const btn = h('button', { type: 'button', class: 'small', onclick: load }, 'Show space details');
    clear(detail, failed ? errorBox(failed) : null, btn, h('span', { class: 'muted small' }, ' (takes a few seconds on a large repository)'));
    if (!state.statsAuto) { state.statsAuto = true; load(); }
  }
  // /api/stats may take seconds: measured once, in the background, then redrawn.
  async function load() {
    clear(detail, h('p', { class: 'muted small' }, 'Measuring the repository…'));
    state.statsLoading = true;
    try {
      state.stats = { at: Date.now(), data: await api('/api/stats') };
    } catch (e) { state.stats = { at: 0, error: e }; }
    state.statsLoading = false;
    emit('stats');
  }
}

// Every day of the period, in order: days without a backup count 0 (the
// server may list only the days that had one).
function fillDays(list, n) {
  const by = new Map(list.map((d) => [d.day, d]));
  const out = [];
  const p = (x) => String(x).padStart(2, '0');
  const today = new Date();
  for (let i = n - 1; i >= 0; i--) {
    const d = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i, 12);
    const key = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    out.push(by.get(key) || { day: key, count: 0, bytes_stored: 0 });
    by.delete(key);
  }
  // Days the server knows that fall outside (another time zone): keep them.
  return by.size ? [...by.values(), ...out].sort((a, b) => a.day.localeCompare(b.day)) : out;
}
function drawHistory(box, sc) {
  const sel = h('select', { id: 'ov-days' },
    [[7, 'Last 7 days'], [30, 'Last 30 days'], [90, 'Last 90 days'], [365, 'Last year']].map(([v, t]) => h('option', { value: v, selected: v === (state.historyDays || 30) }, t)));
  const body = h('div');
  clear(box, h('div', { class: 'row' }, h('h2', { id: 'ov-history', style: { margin: 0 } }, 'History'), h('span', { class: 'spacer' }),
    h('label', { for: 'ov-days', class: 'sr-only' }, 'Period'), sel), body);
  const load = async () => {
    state.historyDays = Number(sel.value);
    clear(body, h('p', { class: 'muted' }, 'Loading…'));
    let data;
    try { data = await api('/api/stats/history', { query: { days: sel.value }, signal: sc.signal }); } catch (e) { if (!sc.dead && e.name !== 'AbortError') clear(body, errorBox(e, load)); return; }
    if (sc.dead) return;
    const pts = (data.points || []).map((p) => ({ t: parseTime(p.time)?.getTime(), v: p.stored_bytes || 0, files: p.files })).filter((p) => p.t != null).sort((a, b) => a.t - b.t);
    const days = fillDays(data.backups_per_day || [], Number(sel.value));
    const total = days.reduce((a, d) => a + (d.count || 0), 0);
    if (!pts.length && !total) { clear(body, h('p', { class: 'muted' }, 'No backup in this period.')); return; }
    const first = pts[0], last = pts[pts.length - 1];
    const lineLabel = pts.length ? `Stored bytes over time: from ${fmtBytes(first.v)} on ${fmtShort(new Date(first.t))} to ${fmtBytes(last.v)} on ${fmtShort(new Date(last.t))}.` : '';
    const barLabel = `Backups per day: ${plural(total, 'backup')} over ${plural(days.length, 'day')}, at most ${fmtCount(Math.max(0, ...days.map((d) => d.count || 0)))} in a day.`;
    clear(body,
      h('h3', null, 'Data stored'), h('p', { class: 'small muted' }, 'What the backups added to the repository, summed up over time.'),
      pts.length ? chartBox(sc, lineLabel, (w) => lineChart(pts, w)) : h('p', { class: 'muted' }, 'No data.'),
      h('p', { class: 'sr-only' }, lineLabel),
      h('h3', null, 'Backups per day'),
      chartBox(sc, barLabel, (w) => barChart(days, w)),
      h('p', { class: 'sr-only' }, barLabel));
  };
  sel.addEventListener('change', load);
  load();
}

// ================================================================== devices
async function loadDevices() {
  if (state.devices) return state.devices;
  try {
    const d = await api('/api/devices');
    state.devices = d.devices || [];
  } catch (e) { state.devices = []; }
  return state.devices;
}
function currentDevice() {
  const d = (state.devices || []).find((x) => x.current);
  return (d && d.name) || (state.status && state.status.device) || '';
}
// A <select> of devices; '' = this device, '*' = every device.
function deviceSelect(id, value, onChange) {
  const sel = h('select', { id });
  const fill = () => {
    const devs = state.devices || [];
    const cur = currentDevice();
    clear(sel, h('option', { value: '' }, cur ? `${cur} (this computer)` : 'This computer'),
      devs.filter((d) => !d.current && d.name !== cur).map((d) => h('option', { value: d.name }, d.name)),
      h('option', { value: '*' }, 'All devices'));
    sel.value = value || '';
    if (sel.value !== (value || '')) { sel.appendChild(h('option', { value }, value)); sel.value = value; }
  };
  fill();
  loadDevices().then(fill);
  sel.addEventListener('change', () => onChange(sel.value));
  return sel;
}

function versionIcon(v) {
  if (v.deleted || v.type === 'deleted') return icon('gone', 'ico');
  if (v.type === 'dir') return icon('folder', 'ico dir');
  if (v.type === 'symlink') return icon('link', 'ico');
  return icon('file', 'ico');
}

// ==================================================================== files
const PAGE_SIZE = 200;
PAGES.files = async (main, params, sc) => {
  const path = params.get('path') || '/';
  const at = params.get('at') || '';
  const device = params.get('device') || '';
  const nav = (p) => go('files', Object.assign({ path: path, at, device }, p));

  main.appendChild(pageHead('Files', h('span', { class: 'muted' }, at ? 'as they were at a past time' : 'as they are now in the backup')));

  // Toolbar: device and time.
  const devSel = deviceSelect('f-device', device, (v) => nav({ device: v }));
  const atIn = h('input', { type: 'datetime-local', id: 'f-at', step: 60, value: at && parseTime(at) ? localInputValue(parseTime(at)) : '' });
  const showAt = h('button', { type: 'button' }, 'Show');
  const applyAt = () => {
    if (!atIn.value) { nav({ at: '' }); return; }
    const d = new Date(atIn.value);
    if (isNaN(d)) return;
    nav({ at: d.toISOString() });
  };
  showAt.addEventListener('click', applyAt);
  atIn.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); applyAt(); } });
  const ago = (ms) => new Date(Date.now() - ms).toISOString();
  const chip = (label, fn) => h('button', { type: 'button', class: 'small', onclick: () => nav({ at: fn() }) }, label);
  main.appendChild(h('div', { class: 'toolbar' },
    h('div', { class: 'field' }, h('label', { for: 'f-device' }, 'Device'), devSel),
    h('div', { class: 'field' }, h('label', { for: 'f-at' }, 'As it was at'), h('div', { class: 'row' }, atIn, showAt)),
    h('div', { class: 'field' }, h('span', { class: 'label', id: 'f-quick' }, 'Quick'), h('div', { class: 'chips', role: 'group', 'aria-labelledby': 'f-quick' },
      chip('Now', () => ''), chip('1 hour ago', () => ago(3600e3)), chip('Yesterday', () => ago(86400e3)), chip('Last week', () => ago(7 * 86400e3)), chip('Last month', () => ago(30 * 86400e3))))));
  if (at) {
    main.appendChild(h('div', { class: 'notice info atbanner' }, icon('history', 'ico'), h('span', null, 'Showing your files as they were on ', h('strong', null, fmtExact(at)), ` (${fmtAgo(at)}).`),
      h('button', { type: 'button', class: 'small', onclick: () => nav({ at: '' }) }, 'Back to now')));
  }

  // Watched folders as shortcuts when at the top.
  const st = state.status;
  if (path === '/' && st && (st.folders || []).length) {
    main.appendChild(h('p', { class: 'row' }, h('span', { class: 'muted' }, 'Your folders:'),
      st.folders.map((f) => h('a', { class: 'button small', href: href('files', { path: f, at, device }) }, icon('folder', 'ico dir'), f))));
  }

  // Breadcrumbs.
  const parts = path.split('/').filter(Boolean);
  const crumbs = [h('li', null, parts.length ? h('a', { href: href('files', { path: '/', at, device }) }, 'Computer (/)') : h('span', { 'aria-current': 'page' }, 'Computer (/)'))];
  parts.forEach((p, i) => {
    const full = '/' + parts.slice(0, i + 1).join('/');
    crumbs.push(h('li', null, i === parts.length - 1 ? h('span', { 'aria-current': 'page' }, p) : h('a', { href: href('files', { path: full, at, device }) }, p)));
  });
  main.appendChild(h('nav', { class: 'crumbs', 'aria-label': 'Folder' }, h('ol', null, crumbs)));

  // The listing.
  const allDevices = device === '*';
  const selected = state.fileSelection && state.fileSelection.key === `${at}|${device}` ? state.fileSelection.map : new Map();
  state.fileSelection = { key: `${at}|${device}`, map: selected };
  const tbody = h('tbody');
  const headCb = h('input', { type: 'checkbox', id: 'f-all', 'aria-label': 'Select every item shown' });
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only' }, `Contents of ${path}`),
    h('thead', null, h('tr', null,
      h('th', { class: 'cb', scope: 'col' }, headCb),
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col', class: 'num' }, 'Size'),
      h('th', { scope: 'col', class: 'hide-narrow' }, 'Modified'),
      h('th', { scope: 'col', class: 'hide-narrow' }, 'Backed up'),
      allDevices ? h('th', { scope: 'col' }, 'Device') : null,
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);
  const listWrap = h('div', { class: 'tablewrap' }, table);
  const more = h('div', { class: 'more' });
  const status = h('div', { 'aria-live': 'polite' });
  const selbar = h('div', { class: 'selbar', role: 'region', 'aria-label': 'Selection' });
  selbar.hidden = true;
  append(main, status, listWrap, more, selbar);

  const shown = []; // FileVersions on the page
  const boxes = new Map(); // id -> checkbox
  function clearSel() {
    selected.clear();
    for (const cb of boxes.values()) { cb.checked = false; cb.closest('tr').classList.remove('selected'); }
    updateSel();
  }
  function updateSel() {
    const n = selected.size;
    selbar.hidden = n === 0;
    const names = [...selected.values()].map((v) => v.name || baseName(v.path));
    clear(selbar, h('span', { class: 'what' }, h('strong', null, `${plural(n, 'item')} selected: `), names.slice(0, 4).join(', '), names.length > 4 ? ` and ${names.length - 4} more` : ''),
      h('button', { type: 'button', class: 'primary', onclick: () => openRestoreDialog([...selected.values()], clearSel) }, icon('restore'), 'Restore…'),
      h('button', { type: 'button', onclick: clearSel }, 'Clear selection'));
    const onPage = shown.filter((v) => selected.has(v.id)).length;
    headCb.checked = shown.length > 0 && onPage === shown.length;
    headCb.indeterminate = onPage > 0 && onPage < shown.length;
  }
  headCb.addEventListener('change', () => {
    for (const v of shown) {
      const cb = boxes.get(v.id);
      if (headCb.checked) selected.set(v.id, v); else selected.delete(v.id);
      cb.checked = headCb.checked;
      cb.closest('tr').classList.toggle('selected', headCb.checked);
    }
    updateSel();
  });

  function row(v) {
    const isDir = v.type === 'dir';
    const cb = h('input', { type: 'checkbox', 'aria-label': `Select ${v.name}`, checked: selected.has(v.id) });
    boxes.set(v.id, cb);
    const tr = h('tr', { class: selected.has(v.id) ? 'selected' : null });
    cb.addEventListener('change', () => {
      if (cb.checked) selected.set(v.id, v); else selected.delete(v.id);
      tr.classList.toggle('selected', cb.checked);
      updateSel();
    });
    const dev = v.device || device;
    const nameLink = isDir
      ? h('a', { href: href('files', { path: v.path, at, device }) }, versionIcon(v), v.name)
      : h('a', { href: href('timeline', { path: v.path, device: dev, at }), title: 'See every version of this file' }, versionIcon(v), v.name);
    append(tr,
      h('td', { class: 'cb' }, cb),
      h('td', { class: 'name' }, nameLink, v.type === 'symlink' && v.link_target ? h('span', { class: 'muted small' }, ` → ${v.link_target}`) : null),
      h('td', { class: 'num' }, isDir ? '' : fmtBytes(v.size)),
      h('td', { class: 'hide-narrow nowrap' }, v.mtime ? timeAgo(v.mtime) : ''),
      h('td', { class: 'hide-narrow nowrap' }, timeAgo(v.backup_time)),
      allDevices ? h('td', null, v.device || '') : null,
      h('td', { class: 'actions' },
        h('a', { class: 'button small', href: href('timeline', { path: v.path, device: dev, at }), title: `Versions of ${v.name}` }, icon('history'), h('span', { class: 'hide-narrow' }, 'Versions')),
        v.type === 'file' || isDir ? h('a', { class: 'button small', href: downloadHref(v.id), download: isDir ? `${v.name}.tar` : v.name, title: isDir ? `Download ${v.name} as a .tar archive` : `Download ${v.name}` }, icon('download'), h('span', { class: 'sr-only' }, 'Download')) : null));
    return tr;
  }

  let cursor = null;
  let loading = false;
  async function loadPage() {
    if (loading) return;
    loading = true;
    clear(more, h('span', { class: 'muted' }, 'Loading…'));
    let data;
    try {
      data = await api('/api/files', { query: { path, at, device, cursor, limit: PAGE_SIZE }, signal: sc.signal });
    } catch (e) {
      loading = false;
      if (sc.dead || e.name === 'AbortError') return;
      more.replaceChildren();
      if (e.code === 'not found' && !cursor) {
        listWrap.hidden = true;
        clear(status, h('div', { class: 'notice warn' }, `Nothing was backed up at ${path}${device === '*' ? '' : ` on ${device || currentDevice() || 'this computer'}`}${at ? ' at that time' : ''}. `,
          path !== '/' ? h('a', { href: href('files', { path: parentOf(path), at, device }) }, 'Go up a folder') : null));
      } else clear(status, errorBox(e, loadPage));
      return;
    }
    loading = false;
    if (sc.dead) return;
    const ents = data.entries || [];
    // A file's path answers its own state: show its timeline instead.
    if (!cursor && ents.length === 1 && ents[0].path === path && ents[0].type !== 'dir') {
      go('timeline', { path, device: ents[0].device || device }, true);
      return;
    }
    for (const v of ents) { shown.push(v); tbody.appendChild(row(v)); }
    cursor = data.next_cursor || null;
    if (!shown.length) {
      listWrap.hidden = true;
      clear(status, h('p', { class: 'muted' }, at ? 'This folder was empty then.' : 'This folder is empty.'));
    }
    clear(more,
      shown.length ? h('span', { class: 'muted small' }, `${plural(shown.length, 'item')}${cursor ? ' shown so far' : ''}`) : null,
      cursor ? h('button', { type: 'button', onclick: loadPage }, `Show ${PAGE_SIZE} more`) : null);
    updateSel();
  }
  // Load the next page when the "more" row comes into view.
  if (window.IntersectionObserver) {
    const io = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting) && cursor && !loading) loadPage(); }, { rootMargin: '300px' });
    io.observe(more);
    sc.add(() => io.disconnect());
  }
  updateSel();
  await loadPage();
};

// ================================================================== search
PAGES.search = async (main, params, sc) => {
  const q = params.get('q') || '';
  const device = params.get('device') || '';
  const deleted = params.get('deleted') !== 'false';
  main.appendChild(pageHead('Search'));
  const input = h('input', { type: 'search', id: 's-q', value: q, placeholder: 'report, *.odt, Photos/2024…', autocomplete: 'off', style: { minWidth: '18rem', flex: '1' }, 'aria-describedby': 's-help' });
  const del = h('input', { type: 'checkbox', id: 's-del', checked: deleted });
  let dev = device;
  const devSel = deviceSelect('s-dev', device, (v) => { dev = v; });
  const form = h('form', { role: 'search', class: 'card' },
    h('div', { class: 'field' }, h('label', { for: 's-q' }, 'Find every file ever backed up, by name or path'),
      h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, icon('search'), 'Search'))),
    h('p', { id: 's-help', class: 'small muted' }, 'A word finds every name that contains it. ', h('code', null, '*'), ' and ', h('code', null, '?'), ' are wildcards: ', h('code', null, '*.pdf'), ' finds every PDF.'),
    h('div', { class: 'row' }, h('label', { class: 'check', for: 's-del' }, del, 'Include deleted files'), h('span', { class: 'spacer' }),
      h('label', { for: 's-dev' }, 'Device'), devSel));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (!v) { input.focus(); return; }
    go('search', { q: v, device: dev, deleted: del.checked ? '' : 'false' });
  });
  main.appendChild(form);
  const out = h('div', { 'aria-live': 'polite' });
  main.appendChild(out);
  if (!q) { input.focus(); clear(out, h('p', { class: 'muted' }, 'Deleted a file by mistake? Search for its name: deleted files are marked with the day they were deleted, and their older versions can be restored.')); return; }

  clear(out, h('p', { class: 'muted' }, 'Searching…'));
  let data;
  try {
    data = await api('/api/search', { query: { q, device, deleted: deleted ? 'true' : 'false', limit: 500 }, signal: sc.signal });
  } catch (e) { if (!sc.dead && e.name !== 'AbortError') clear(out, errorBox(e)); return; }
  if (sc.dead) return;
  const res = data.results || [];
  if (!res.length) { clear(out, h('p', null, `Nothing matches “${q}”.`, deleted ? '' : ' Deleted files were left out.')); return; }
  const nDel = res.filter((v) => v.deleted).length;
  const rows = res.map((v) => {
    const dev = v.device || device;
    const link = href('timeline', { path: v.path, device: dev, from: 'search' });
    return h('tr', { class: v.deleted ? 'deleted' : null },
      h('td', { class: 'name' }, h('a', { href: link }, versionIcon(v), v.deleted ? h('s', null, v.name || baseName(v.path)) : (v.name || baseName(v.path))),
        h('div', { class: 'small muted break' }, parentOf(v.path))),
      h('td', { class: 'num' }, v.deleted || v.type === 'dir' ? '' : fmtBytes(v.size)),
      h('td', null, v.deleted
        ? h('span', null, h('span', { class: 'badge bad' }, 'Deleted'), ' ', h('time', { datetime: v.backup_time, title: fmtExact(v.backup_time) }, `on ${fmtShort(v.backup_time)}`))
        : h('span', { class: 'small' }, 'backed up ', timeAgo(v.backup_time))),
      device === '*' ? h('td', null, v.device || '') : null,
      h('td', { class: 'actions' }, h('a', { class: 'button small', href: link }, icon('history'), v.deleted ? 'Get it back' : 'Versions')));
  });
  clear(out,
    h('p', null, `${plural(res.length, 'result')}${nDel ? `, ${fmtCount(nDel)} deleted` : ''}.`,
      data.truncated ? h('strong', null, ' There are more: type more of the name to narrow the search.') : ''),
    h('div', { class: 'tablewrap' }, h('table', { class: 'list stack' },
      h('caption', { class: 'sr-only' }, `Search results for ${q}`),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'State'),
        device === '*' ? h('th', { scope: 'col' }, 'Device') : null, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', null, rows))));
};

// ================================================================ timeline
function changeOf(v, prev) {
  if (v.deleted || v.type === 'deleted') return ['Deleted', 'bad'];
  if (!prev) return ['First backup', 'info'];
  if (prev.deleted || prev.type === 'deleted') return ['Back after deletion', 'ok'];
  if (prev.type !== v.type) return [`Now a ${v.type === 'dir' ? 'folder' : v.type}`, 'warn'];
  if (v.type === 'dir') return ['Folder changed', ''];
  if (v.sha256 && prev.sha256 && v.sha256 === prev.sha256) return ['Same content', '', 'The content is identical: only the date or the permissions changed'];
  const d = (v.size || 0) - (prev.size || 0);
  if (d > 0) return [`+${fmtBytes(d)}`, 'ok'];
  if (d < 0) return [`−${fmtBytes(-d)}`, 'warn'];
  return ['Changed, same size', ''];
}
const DIFF_MAX = 1024 * 1024;

PAGES.timeline = async (main, params, sc) => {
  const path = params.get('path') || '';
  const device = params.get('device') || '';
  const at = parseTime(params.get('at'));
  const name = baseName(path);
  main.appendChild(pageHead(name, h('a', { href: href('files', { path: parentOf(path), device }) }, 'Show its folder')));
  main.appendChild(h('p', { class: 'muted break' }, h('code', null, path), device && device !== '*' ? ` · device ${device}` : ''));
  const out = h('div');
  main.appendChild(out);
  if (!path) { out.appendChild(h('p', null, 'No file chosen. ', h('a', { href: href('files') }, 'Browse your files'), ' or ', h('a', { href: href('search') }, 'search'), '.')); return; }
  clear(out, h('p', { class: 'muted' }, 'Loading versions…'));
  let data;
  try {
    data = await api('/api/versions', { query: { path, device }, signal: sc.signal });
  } catch (e) {
    if (sc.dead || e.name === 'AbortError') return;
    clear(out, e.code === 'not found' ? h('div', { class: 'notice warn' }, `No version of ${path} was found${device ? ' on ' + device : ''}.`) : errorBox(e));
    return;
  }
  if (sc.dead) return;
  const versions = (data.versions || []).map((v, i) => Object.assign({ number: i + 1 }, v));
  const last = versions[versions.length - 1];
  const isDir = versions.some((v) => v.type === 'dir');
  const real = versions.filter((v) => !v.deleted && v.type !== 'deleted');
  const lastReal = real[real.length - 1];

  const summary = [];
  if (last && (last.deleted || last.type === 'deleted')) {
    summary.push(h('div', { class: 'notice warn' }, h('strong', null, 'This file was deleted '), timeAgo(last.backup_time), ` (${fmtExact(last.backup_time)}). `,
      lastReal ? [`Its last version is from ${fmtShort(lastReal.backup_time)}. `, h('button', { type: 'button', class: 'primary small', onclick: () => openRestoreDialog([lastReal]) }, icon('restore'), 'Restore the last version…')] : ''));
  }
  summary.push(h('p', null, `${plural(versions.length, 'version')}${isDir ? ' of this folder' : ''}, the newest first. `,
    isDir ? 'Restoring a version of a folder brings back the whole folder as it was then.' : 'Pick a version to restore or download it; tick two to compare them.'));

  // Compare (text files).
  const picked = [];
  const diffOut = h('section', { 'aria-live': 'polite', id: 'diff' });
  const cmpBtn = h('button', { type: 'button', disabled: true }, 'Compare the two ticked versions');
  const cmpHint = h('span', { class: 'small muted' }, 'Tick two versions to compare them.');
  const cmpBar = isDir ? null : h('div', { class: 'row', style: { margin: '0.6rem 0' } }, cmpBtn, cmpHint);
  const checks = new Map();
  function updatePicked() {
    cmpBtn.disabled = picked.length !== 2;
    cmpHint.textContent = picked.length === 2 ? `Versions ${picked.map((v) => v.number).sort((a, b) => a - b).join(' and ')}` : picked.length === 1 ? 'Tick one more version.' : 'Tick two versions to compare them.';
  }
  cmpBtn.addEventListener('click', () => {
    const [a, b] = picked.slice().sort((x, y) => x.number - y.number);
    showDiff(diffOut, a, b, sc);
  });

  const oneDevice = new Set(versions.map((v) => v.device || data.device)).size <= 1;
  // Opened from Files "as it was at": the version current then.
  const atVersion = at ? versions.filter((v) => parseTime(v.backup_time) <= at).pop() : null;
  const rows = versions.slice().reverse().map((v) => {
    const prev = versions[v.number - 2];
    const [chg, cls, why] = changeOf(v, prev);
    const gone = v.deleted || v.type === 'deleted';
    const canDiff = !isDir && !gone && v.type === 'file';
    let cb = null;
    if (canDiff) {
      cb = h('input', { type: 'checkbox', 'aria-label': `Compare version ${v.number}` });
      checks.set(v.id, cb);
      cb.addEventListener('change', () => {
        if (cb.checked) {
          picked.push(v);
          if (picked.length > 2) { const old = picked.shift(); checks.get(old.id).checked = false; }
        } else {
          const i = picked.indexOf(v);
          if (i >= 0) picked.splice(i, 1);
        }
        updatePicked();
      });
    }
    const prevReal = prev && !(prev.deleted || prev.type === 'deleted') && prev.type === 'file' ? prev : null;
    return h('tr', { class: [gone ? 'deleted' : '', v === atVersion ? 'selected' : ''].join(' ').trim() || null },
      isDir ? null : h('td', { class: 'cb' }, cb),
      h('td', { class: 'nowrap' }, h('strong', null, `#${v.number}`), v === last && !gone ? h('div', null, h('span', { class: 'badge info' }, 'newest')) : null,
        v === atVersion ? h('div', null, h('span', { class: 'badge warn', title: `The version current on ${fmtExact(at)}, the time chosen in Files` }, 'at chosen time')) : null),
      h('td', null, timeAgo(v.backup_time), h('div', { class: 'small muted nowrap' }, fmtExact(v.backup_time))),
      h('td', { class: 'num' }, gone || v.type === 'dir' ? '' : fmtBytes(v.size)),
      h('td', null, h('span', { class: `badge ${cls}`, title: why || null }, chg)),
      oneDevice ? null : h('td', { class: 'hide-narrow' }, v.device || data.device || ''),
      h('td', { class: 'actions' }, gone ? null : [
        canDiff && prevReal ? h('button', { type: 'button', class: 'small', title: `What changed between version ${prev.number} and ${v.number}`, onclick: () => showDiff(diffOut, prevReal, v, sc) }, 'Changes') : null,
        h('button', { type: 'button', class: 'small', onclick: () => openRestoreDialog([v]) }, icon('restore'), 'Restore…'),
        v.type === 'file' || v.type === 'dir' ? h('a', { class: 'button small', href: downloadHref(v.id), download: v.type === 'dir' ? `${v.name || name}.tar` : (v.name || name) }, icon('download'), 'Download') : null]));
  });
  clear(out, summary, cmpBar,
    h('div', { class: 'tablewrap' }, h('table', { class: 'list stack' },
      h('caption', { class: 'sr-only' }, `Versions of ${path}`),
      h('thead', null, h('tr', null,
        isDir ? null : h('th', { class: 'cb', scope: 'col' }, h('span', { class: 'sr-only' }, 'Compare')),
        h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'Backed up'), h('th', { scope: 'col', class: 'num' }, 'Size'),
        h('th', { scope: 'col' }, 'What changed'), oneDevice ? null : h('th', { scope: 'col', class: 'hide-narrow' }, 'Device'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', null, rows))),
    diffOut);
};

// ==================================================================== diff
async function fetchText(v, signal) {
  if (v.size > DIFF_MAX) throw new Error(`version ${v.number} is ${fmtBytes(v.size)}: only files up to 1 MB are compared here. Download both versions to compare them with another program.`);
  const res = await fetch(`/api/download/${encodeURIComponent(v.id)}`, { credentials: 'same-origin', signal, cache: 'no-store', headers: state.csrf ? { 'X-CSRF-Token': state.csrf } : {} });
  if (!res.ok) {
    let j = null;
    try { j = await res.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(res.status, (j && j.code) || CODE_BY_STATUS[res.status] || 'internal', (j && j.error) || res.statusText);
  }
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.length > DIFF_MAX) throw new Error(`version ${v.number} is larger than 1 MB: only smaller files are compared here.`);
  if (v.size != null && buf.length !== v.size) throw new Error(`version ${v.number} could not be read completely (damaged data?). Try again, or run "cairn check".`);
  if (buf.indexOf(0) >= 0) throw new Error('not text');
  try { return new TextDecoder('utf-8', { fatal: true }).decode(buf); } catch (e) { throw new Error('not text'); }
}
function splitLines(t) {
  const l = t.split(/\r?\n/);
  if (l.length && l[l.length - 1] === '') l.pop();
  return l;
}
// A line diff (Myers, O((N+M)·D)): the list of operations
// ['=', i, j] | ['-', i] | ['+', j]. Throws when more than `maxD` lines differ.
function diffLines(a, b, maxD = 4000) {
  const ids = new Map();
  const id = (x) => { let v = ids.get(x); if (v === undefined) { v = ids.size; ids.set(x, v); } return v; };
  const A = Int32Array.from(a, id), B = Int32Array.from(b, id);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
  let ea = A.length, eb = B.length;
  while (ea > pre && eb > pre && A[ea - 1] === B[eb - 1]) { ea--; eb--; }
  const N = ea - pre, M = eb - pre, max = N + M;
  const ops = [];
  for (let i = 0; i < pre; i++) ops.push(['=', i, i]);
  if (max > 0) {
    const off = max + 1;
    const V = new Int32Array(2 * max + 3);
    const trace = [];
    let D = -1;
    outer:
    for (let d = 0; d <= max; d++) {
      if (d > maxD) throw new Error('too many differences');
      for (let k = -d; k <= d; k += 2) {
        let x = (k === -d || (k !== d && V[off + k - 1] < V[off + k + 1])) ? V[off + k + 1] : V[off + k - 1] + 1;
        let y = x - k;
        while (x < N && y < M && A[pre + x] === B[pre + y]) { x++; y++; }
        V[off + k] = x;
        if (x >= N && y >= M) { trace.push(V.slice(off - d, off + d + 1)); D = d; break outer; }
      }
      trace.push(V.slice(off - d, off + d + 1));
    }
    const mid = [];
    let x = N, y = M;
    for (let d = D; d > 0; d--) {
      const P = trace[d - 1]; // V after step d-1, index k + (d-1)
      const k = x - y;
      const down = k === -d || (k !== d && P[k - 1 + d - 1] < P[k + 1 + d - 1]);
      const pk = down ? k + 1 : k - 1;
      const px = P[pk + d - 1], py = px - pk;
      const sx = down ? px : px + 1, sy = down ? py + 1 : py;
      while (x > sx && y > sy) { x--; y--; mid.push(['=', pre + x, pre + y]); }
      if (down) mid.push(['+', pre + py]); else mid.push(['-', pre + px]);
      x = px; y = py;
    }
    while (x > 0 && y > 0) { x--; y--; mid.push(['=', pre + x, pre + y]); }
    for (let i = mid.length - 1; i >= 0; i--) ops.push(mid[i]);
  }
  for (let i = 0; i < A.length - ea; i++) ops.push(['=', ea + i, eb + i]);
  return ops;
}
// Rows for a side-by-side view: runs of deletions and insertions paired.
function diffRows(ops) {
  const rows = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i][0] === '=') { rows.push({ t: '=', a: ops[i][1], b: ops[i][2] }); i++; continue; }
    const dels = [], ins = [];
    while (i < ops.length && ops[i][0] !== '=') { (ops[i][0] === '-' ? dels : ins).push(ops[i][1]); i++; }
    for (let k = 0; k < Math.max(dels.length, ins.length); k++) rows.push({ t: 'c', a: dels[k], b: ins[k] });
  }
  return rows;
}
// Marks the changed middle of a line pair (common prefix and suffix kept plain).
function markedCells(x, y) {
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let sx = x.length, sy = y.length;
  while (sx > p && sy > p && x[sx - 1] === y[sy - 1]) { sx--; sy--; }
  const part = (t, a, b, cls) => [t.slice(0, a), a < b ? h('span', { class: cls }, t.slice(a, b)) : null, t.slice(b)];
  return [part(x, p, sx, 'mark-del'), part(y, p, sy, 'mark-ins')];
}
async function showDiff(out, va, vb, sc) {
  clear(out, h('h2', null, `Changes from version ${va.number} to version ${vb.number}`), h('p', { class: 'muted' }, 'Loading both versions…'));
  out.scrollIntoView({ behavior: 'smooth', block: 'start' });
  let ta, tb;
  try {
    [ta, tb] = await Promise.all([fetchText(va, sc.signal), fetchText(vb, sc.signal)]);
  } catch (e) {
    if (sc.dead || e.name === 'AbortError') return;
    const msg = e.message === 'not text'
      ? 'These versions are not plain text (a picture, an office document, …), so they cannot be compared line by line here. Download both to compare them with the program that opens them.'
      : e instanceof ApiError ? errorText(e) : `Cannot compare: ${e.message}`;
    clear(out, h('h2', null, `Changes from version ${va.number} to version ${vb.number}`), h('div', { class: 'notice warn', role: 'alert' }, msg));
    return;
  }
  if (sc.dead) return;
  const a = splitLines(ta), b = splitLines(tb);
  let ops;
  try { ops = diffLines(a, b); } catch (e) {
    clear(out, h('h2', null, `Changes from version ${va.number} to version ${vb.number}`), h('div', { class: 'notice warn' }, 'These versions differ on too many lines to show side by side. Download both to compare them.'));
    return;
  }
  const rows = diffRows(ops);
  const added = ops.filter((o) => o[0] === '+').length, removed = ops.filter((o) => o[0] === '-').length;
  const tbody = h('tbody');
  const CTX = 3;
  const line = (t, n, text, cls) => [h('td', { class: 'ln' }, n == null ? '' : String(n + 1)), h('td', { class: n == null ? 'empty' : cls }, text)];
  const emit = (r) => {
    if (r.t === '=') return h('tr', null, line('=', r.a, a[r.a], ''), line('=', r.b, b[r.b], ''));
    let left = r.a == null ? '' : a[r.a], right = r.b == null ? '' : b[r.b];
    if (r.a != null && r.b != null) [left, right] = markedCells(a[r.a], b[r.b]);
    return h('tr', null, line('-', r.a, left, 'del'), line('+', r.b, right, 'ins'));
  };
  let i = 0;
  while (i < rows.length) {
    if (rows[i].t !== '=') { tbody.appendChild(emit(rows[i])); i++; continue; }
    let j = i;
    while (j < rows.length && rows[j].t === '=') j++;
    const run = rows.slice(i, j);
    const head = i === 0 ? 0 : CTX, tail = j === rows.length ? 0 : CTX;
    if (run.length > head + tail + 2) {
      run.slice(0, head).forEach((r) => tbody.appendChild(emit(r)));
      const hidden = run.slice(head, run.length - tail);
      const btn = h('button', { type: 'button', class: 'link' }, `Show ${plural(hidden.length, 'unchanged line')}`);
      const fold = h('tr', { class: 'fold' }, h('td', { colspan: 4 }, btn));
      btn.addEventListener('click', () => { fold.replaceWith(...hidden.map(emit)); });
      tbody.appendChild(fold);
      run.slice(run.length - tail).forEach((r) => tbody.appendChild(emit(r)));
    } else run.forEach((r) => tbody.appendChild(emit(r)));
    i = j;
  }
  clear(out,
    h('h2', null, `Changes from version ${va.number} to version ${vb.number}`),
    h('p', { class: 'diffstat' }, added || removed ? [h('span', { class: 'plus' }, `+${plural(added, 'line')} added`), ', ', h('span', { class: 'minus' }, `−${plural(removed, 'line')} removed`)] : 'The two versions have the same text.'),
    h('div', { class: 'tablewrap' }, h('table', { class: 'diff' },
      h('colgroup', null, h('col', { style: { width: '3.4rem' } }), h('col'), h('col', { style: { width: '3.4rem' } }), h('col')),
      h('thead', null, h('tr', null, h('th', { colspan: 2 }, `Version ${va.number} · ${fmtShort(va.backup_time)}`), h('th', { colspan: 2 }, `Version ${vb.number} · ${fmtShort(vb.backup_time)}`))),
      tbody)));
}

// ================================================================== backup
PAGES.backup = async (main, params, sc) => {
  main.appendChild(pageHead('Back up'));
  const st = state.status || {};
  const nowMsg = h('div', { 'aria-live': 'polite' });
  const nowBtn = h('button', { type: 'button', class: 'primary big' }, icon('backup'), 'Back up now');
  nowBtn.addEventListener('click', async () => {
    nowBtn.disabled = true;
    try {
      const job = await api('/api/backup/process', { method: 'POST' });
      handleJob(job);
      clear(nowMsg, h('p', { class: 'notice ok' }, 'Started. The progress is shown below.'));
    } catch (e) { clear(nowMsg, errorBox(e)); }
    nowBtn.disabled = false;
  });
  const folders = st.folders || [];
  main.appendChild(h('section', { class: 'card', 'aria-labelledby': 'b-now' },
    h('h2', { id: 'b-now' }, 'Everything'),
    h('p', null, st.mode === 'run' ? 'cairn backs up your changes by itself within seconds. Back up now anyway, for example before you switch the computer off or unplug a disk:'
      : 'Back up every configured folder now:'),
    folders.length ? h('ul', null, folders.map((f) => h('li', null, h('code', null, f)))) : null,
    nowBtn, nowMsg));

  const ta = h('textarea', { id: 'b-paths', placeholder: '/home/you/Documents/thesis\n/home/you/Pictures/2026', spellcheck: 'false', 'aria-describedby': 'b-help' });
  const pathMsg = h('div', { 'aria-live': 'polite' });
  const pathBtn = h('button', { type: 'submit', class: 'primary' }, 'Back up these');
  const form = h('form', { class: 'card', 'aria-labelledby': 'b-some' },
    h('h2', { id: 'b-some' }, 'Chosen files or folders'),
    h('div', { class: 'field' }, h('label', { for: 'b-paths' }, 'Files or folders to back up, one full path per line'), ta),
    h('p', { id: 'b-help', class: 'small muted' }, 'Each line is a full path that starts with "/". Folders are backed up with everything in them.'),
    pathBtn, pathMsg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const lines = ta.value.split('\n').map((l) => l.trim()).filter(Boolean);
    if (!lines.length) { clear(pathMsg, h('div', { class: 'notice error', role: 'alert' }, 'Type at least one path.')); ta.focus(); return; }
    const bad = lines.filter((l) => !l.startsWith('/'));
    if (bad.length) { clear(pathMsg, h('div', { class: 'notice error', role: 'alert' }, 'These are not full paths (they must start with "/"): ', bad.join(', '))); ta.focus(); return; }
    pathBtn.disabled = true;
    try {
      const job = await api('/api/backup/process', { method: 'POST', body: { paths: lines } });
      handleJob(job);
      clear(pathMsg, h('p', { class: 'notice ok' }, `Started for ${plural(lines.length, 'path')}. The progress is shown below.`));
    } catch (err) { clear(pathMsg, errorBox(err)); }
    pathBtn.disabled = false;
  });
  main.appendChild(form);

  main.appendChild(h('section', { 'aria-labelledby': 'b-jobs' }, h('h2', { id: 'b-jobs' }, 'Recent backups started here'),
    jobList(sc, (j) => j.kind === 'backup', { max: 5, empty: 'No backup was started from the dashboard since cairn started.' })));
  refreshJobs().catch(() => {});
};

// ================================================================ activity
PAGES.activity = async (main, params, sc) => {
  main.appendChild(pageHead('Activity'));
  const jobsBox = h('section', { class: 'card', 'aria-labelledby': 'a-jobs' }, h('h2', { id: 'a-jobs' }, 'Jobs'), h('p', { class: 'small muted' }, 'Backups, restores and cleanups started from the dashboard or the API, newest first.'));
  const jobsErr = h('div');
  jobsBox.appendChild(jobsErr);
  jobsBox.appendChild(jobList(sc, () => true, { max: 30, empty: 'No job since cairn started.' }));
  const probBox = h('section', { class: 'card', 'aria-labelledby': 'a-prob' });
  const runsBox = h('section', { class: 'card', 'aria-labelledby': 'a-runs' }, h('h2', { id: 'a-runs' }, 'Past backups'));
  const logBox = h('section', { class: 'card', 'aria-labelledby': 'a-log' });
  append(main, probBox, jobsBox, runsBox, logBox);

  refreshJobs().catch((e) => { if (!sc.dead) clear(jobsErr, errorBox(e)); });

  const drawProblems = () => {
    const st = state.status || {};
    const errs = st.errors || [], warns = st.warnings || [];
    clear(probBox, h('h2', { id: 'a-prob' }, 'Problems'),
      !errs.length && !warns.length ? h('p', { class: 'muted' }, 'No error and no warning.') : null,
      errs.length ? h('ul', null, errs.map((e) => h('li', { class: 'break' }, h('span', { class: 'badge bad' }, 'error'), ' ', e))) : null,
      warns.length ? h('ul', null, warns.map((e) => h('li', { class: 'break' }, h('span', { class: 'badge warn' }, 'warning'), ' ', e))) : null);
  };
  drawProblems();
  sc.on('status', drawProblems);
  if (!state.status) refreshStatus();

  // Runs.
  const runsOut = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  runsBox.appendChild(runsOut);
  (async () => {
    let data;
    try { data = await api('/api/runs', { query: { limit: 50 }, signal: sc.signal }); } catch (e) { if (!sc.dead && e.name !== 'AbortError') clear(runsOut, errorBox(e)); return; }
    if (sc.dead) return;
    const runs = data.runs || [];
    if (!runs.length) { clear(runsOut, h('p', { class: 'muted' }, 'No backup yet.')); return; }
    const multi = new Set(runs.map((r) => r.device)).size > 1;
    const FIRST = 10;
    const tbody = h('tbody');
    const moreRuns = runs.length > FIRST ? h('div', { class: 'more' }, h('button', { type: 'button', onclick: () => { append(tbody, runs.slice(FIRST).map(runRow)); moreRuns.remove(); } }, `Show ${runs.length - FIRST} older`)) : null;
    clear(runsOut, h('div', { class: 'tablewrap' }, h('table', { class: 'list' },
      h('caption', { class: 'sr-only' }, 'Past backup runs, newest first'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Started'), multi ? h('th', { scope: 'col' }, 'Device') : null, h('th', { scope: 'col' }, 'Result'),
        h('th', { scope: 'col', class: 'num' }, 'New'), h('th', { scope: 'col', class: 'num' }, 'Changed'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Unchanged'),
        h('th', { scope: 'col', class: 'num hide-narrow' }, 'Read'), h('th', { scope: 'col', class: 'num' }, 'Stored'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Took'))),
      tbody)), moreRuns);
    append(tbody, runs.slice(0, FIRST).map(runRow));
    function runRow(r) {
      const took = r.start && r.end ? (parseTime(r.end) - parseTime(r.start)) / 1000 : null;
      const result = r.errors ? h('span', { class: 'badge bad' }, plural(r.errors, 'error')) : r.complete === false ? h('span', { class: 'badge warn', title: 'The backup was interrupted; the next one finishes it' }, 'interrupted') : h('span', { class: 'badge ok' }, 'ok');
      return h('tr', null, h('td', { class: 'nowrap' }, timeAgo(r.start)), multi ? h('td', null, r.device) : null, h('td', null, result),
        h('td', { class: 'num' }, fmtCount(r.files_new)), h('td', { class: 'num' }, fmtCount(r.files_changed)), h('td', { class: 'num hide-narrow' }, fmtCount(r.files_unchanged)),
        h('td', { class: 'num hide-narrow' }, fmtBytes(r.bytes_read)), h('td', { class: 'num' }, fmtBytes(r.bytes_stored)), h('td', { class: 'num hide-narrow' }, took != null ? fmtDuration(took) : ''));
    }
  })();

  // Log.
  const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Log lines, newest last' });
  const refresh = h('button', { type: 'button', class: 'small' }, 'Refresh');
  clear(logBox, h('div', { class: 'row' }, h('h2', { id: 'a-log', style: { margin: 0 } }, 'Log'), h('span', { class: 'spacer' }), refresh), h('p', { class: 'small muted' }, 'The newest lines of the log of "cairn run".'), pre);
  const loadLog = async () => {
    refresh.disabled = true;
    try {
      const d = await api('/api/log', { query: { lines: 200 }, signal: sc.signal });
      const lines = d.lines || [];
      pre.textContent = lines.length ? lines.join('\n') : ((state.status && state.status.mode === 'serve') ? 'No log: "cairn serve" keeps none (the log is written by "cairn run").' : 'The log is empty.');
      pre.scrollTop = pre.scrollHeight;
    } catch (e) { if (!sc.dead && e.name !== 'AbortError') pre.replaceWith(errorBox(e)); }
    refresh.disabled = false;
  };
  refresh.addEventListener('click', loadLog);
  loadLog();
};

// ================================================================ settings
const SETTING_GROUPS = [
  ['What is backed up', ['backup.watched_directories', 'backup.exclude_patterns', 'backup.exclude_caches', 'backup.exclude_editor_temporaries', 'backup.max_file_size_mb']],
  ['When', ['backup.backup_interval_minutes', 'backup.watch_mode', 'backup.stability_seconds', 'backup.max_delay_seconds', 'backup.poll_interval_seconds']],
  ['How long versions are kept', ['versioning.max_versions_per_file', 'versioning.retention_days', 'versioning.keep_last', 'versioning.keep_hourly', 'versioning.keep_daily', 'versioning.keep_weekly', 'versioning.keep_monthly', 'versioning.keep_yearly', 'versioning.keep_within']],
  ['Bandwidth', ['azure.limit_upload_kib', 'azure.limit_download_kib', 'azure.connections', 'azure.stall_timeout_seconds']],
  ['Where backups go', ['repository.location', 'repository.device_id', 'repository.password_file', 'azure.connection_string', 'azure.container', 'azure.prefix', 'azure.access_tier']],
];
const SETTING_HELP = {
  'backup.watched_directories': ['Watched folders', 'The folders that are backed up, with everything in them.'],
  'backup.exclude_patterns': ['Left out', 'Files and folders matching these patterns are not backed up (* matches anything).'],
  'backup.exclude_caches': ['Skip cache folders', 'Folders marked as caches (by browsers, build tools…) are not backed up.'],
  'backup.exclude_editor_temporaries': ['Skip editors’ temporary files', 'Swap, lock and backup files of editors and office programs are not backed up.'],
  'backup.max_file_size_mb': ['Largest file', 'Files larger than this are not backed up (0: no limit).'],
  'backup.compression': ['Compression', 'How stored data is compressed.'],
  'backup.compression_level': ['Compression level', 'Higher compresses more but backs up more slowly.'],
  'backup.backup_interval_minutes': ['Full check every', 'A complete pass over every folder, to catch anything the watcher missed.'],
  'backup.watch_mode': ['How changes are noticed', 'auto: the system tells cairn at once (network drives are checked periodically instead).'],
  'backup.poll_interval_seconds': ['Check interval (polled folders)', 'How often folders without change notifications are compared.'],
  'backup.stability_seconds': ['Wait after a change', 'A changed file is backed up once it has been quiet this long.'],
  'backup.max_delay_seconds': ['…but at most', 'A file that keeps changing is still backed up after this long.'],
  'backup.pack_size_mb': ['Pack size', 'Size of the files the backup data is stored in.'],
  'backup.threads': ['Threads', 'Parallel workers (0: one per processor core).'],
  'versioning.max_versions_per_file': ['Versions per file', 'At most this many versions of each file are kept (0: all).'],
  'versioning.retention_days': ['Keep old versions for', 'Older versions are removed by the daily cleanup after this many days (0: forever).'],
  'versioning.keep_last': ['Keep the newest', 'This many newest versions are always kept.'],
  'versioning.keep_hourly': ['Hourly versions', 'One version kept for each of the last N hours.'],
  'versioning.keep_daily': ['Daily versions', 'One version kept for each of the last N days.'],
  'versioning.keep_weekly': ['Weekly versions', 'One version kept for each of the last N weeks.'],
  'versioning.keep_monthly': ['Monthly versions', 'One version kept for each of the last N months.'],
  'versioning.keep_yearly': ['Yearly versions', 'One version kept for each of the last N years.'],
  'versioning.keep_within': ['Keep everything younger than', 'Every version younger than this is kept (e.g. 30d).'],
  'azure.limit_upload_kib': ['Upload limit', 'Upload speed limit in KiB/s (0: unlimited).'],
  'azure.limit_download_kib': ['Download limit', 'Download speed limit in KiB/s (0: unlimited).'],
  'azure.connections': ['Connections', 'Transfers to Azure at the same time.'],
  'azure.stall_timeout_seconds': ['Stalled transfer timeout', 'A transfer that moves nothing this long is retried.'],
  'azure.connection_string': ['Azure connection string', 'The credentials for Azure Blob Storage.'],
  'azure.container': ['Azure container', 'The container that holds the backups.'],
  'azure.prefix': ['Azure prefix', 'Folder inside the container.'],
  'azure.access_tier': ['Azure access tier', 'Hot, Cool or Cold: cheaper tiers cost more to read.'],
  'repository.location': ['Repository', 'Where the backups are stored: a folder or an Azure location.'],
  'repository.device_id': ['Device name', 'This computer’s name in the backups (several computers can share one repository).'],
  'repository.password_file': ['Password file', 'The file holding the repository password.'],
  'web.host': ['Dashboard address', 'The address this dashboard listens on.'],
  'web.port': ['Dashboard port', 'The port this dashboard listens on.'],
  'web.allowed_hosts': ['Allowed host names', 'Other names this dashboard may be opened with.'],
  'web.token_file': ['Access token file', 'The file holding the token to log in to this dashboard.'],
  'logging.level': ['Log detail', 'How much the log says.'],
  'logging.file': ['Log file', 'Where "cairn run" writes its log.'],
  'alerts.command': ['Alert command', 'A command run when backups fail or are overdue.'],
  'alerts.webhook_url': ['Alert web address', 'An address told when backups fail or are overdue.'],
  'alerts.stale_after_hours': ['Alert when no backup for', 'Hours without a successful backup before an alert (0: never).'],
  'maintenance.restore_sample_files': ['Daily restore test', 'This many random versions are restored and checked each day (0: off).'],
};
const UNIT = [[/_mb$/, 'MB'], [/_kib$/, 'KiB/s'], [/_minutes$/, 'minutes'], [/_seconds$/, 'seconds'], [/_hours$/, 'hours'], [/_days$/, 'days']];
function settingValue(key, v) {
  if (v === '(set)') return h('span', { class: 'value' }, h('span', { class: 'badge info' }, 'secret'), ' set (hidden)');
  if (v == null || v === '') return h('span', { class: 'muted' }, 'not set');
  if (Array.isArray(v)) return v.length ? h('ul', null, v.map((x) => h('li', null, h('code', null, typeof x === 'object' ? JSON.stringify(x) : String(x))))) : h('span', { class: 'muted' }, 'none');
  if (typeof v === 'boolean') return h('span', { class: 'value' }, v ? 'Yes' : 'No');
  if (typeof v === 'object') return h('code', null, JSON.stringify(v));
  const unit = typeof v === 'number' ? (UNIT.find(([re]) => re.test(key)) || [])[1] : null;
  return h('span', { class: 'value' }, String(v), unit ? ` ${unit}` : '');
}
// The settings a person may change here; the others (where backups go, the
// dashboard's own address, secrets) are changed in the settings file.
const EDITABLE = new Set([
  ...SETTING_GROUPS[0][1], ...SETTING_GROUPS[1][1], ...SETTING_GROUPS[2][1],
  'azure.limit_upload_kib', 'azure.limit_download_kib', 'maintenance.restore_sample_files',
  'alerts.stale_after_hours', 'logging.level',
]);
function settingInput(key, v, id) {
  const attrs = { id, 'data-key': key };
  if (Array.isArray(v)) {
    return h('textarea', Object.assign(attrs, { rows: Math.max(3, v.length + 1), 'data-kind': 'list', value: v.join('\n'), 'aria-describedby': `${id}-why` }));
  }
  if (typeof v === 'boolean') return h('input', Object.assign(attrs, { type: 'checkbox', 'data-kind': 'bool', checked: v }));
  if (typeof v === 'number') return h('input', Object.assign(attrs, { type: 'number', min: '0', step: '1', 'data-kind': 'int', value: String(v) }));
  return h('input', Object.assign(attrs, { type: 'text', 'data-kind': 'text', value: v == null ? '' : String(v) }));
}
function inputValue(el) {
  const kind = el.getAttribute('data-kind');
  if (kind === 'list') return el.value.split('\n').map((x) => x.trim()).filter((x) => x !== '');
  if (kind === 'bool') return el.checked;
  if (kind === 'int') return el.value.trim() === '' ? null : Number(el.value);
  return el.value;
}
PAGES.settings = async (main, params, sc) => {
  main.appendChild(pageHead('Settings'));
  const out = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  main.appendChild(out);
  let data;
  try { data = await api('/api/settings', { signal: sc.signal }); } catch (e) { if (!sc.dead && e.name !== 'AbortError') clear(out, errorBox(e)); return; }
  if (sc.dead) return;
  let editing = false;
  let message = null;
  const render = () => {
    const settings = data.settings || {};
    const flat = new Map();
    for (const [sec, vals] of Object.entries(settings)) {
      if (vals && typeof vals === 'object' && !Array.isArray(vals)) for (const [k, v] of Object.entries(vals)) flat.set(`${sec}.${k}`, v);
      else flat.set(sec, vals);
    }
    const item = (key) => {
      const [label, why] = SETTING_HELP[key] || [key.split('.').pop().replace(/_/g, ' '), ''];
      const id = `set-in-${key.replace(/\./g, '-')}`;
      if (editing && EDITABLE.has(key)) {
        return h('div', { class: 'item' }, h('dt', null, h('label', { for: id }, label), h('code', null, key)),
          h('dd', null, settingInput(key, flat.get(key), id), why ? h('div', { class: 'why', id: `${id}-why` }, why) : null,
            Array.isArray(flat.get(key)) ? h('div', { class: 'why' }, 'One per line.') : null));
      }
      return h('div', { class: 'item' }, h('dt', null, label, h('code', null, key)),
        h('dd', null, settingValue(key, flat.get(key)), why ? h('div', { class: 'why' }, why) : null));
    };
    const sections = [];
    for (const [title, keys] of SETTING_GROUPS) {
      const present = keys.filter((k) => flat.has(k));
      if (present.length) sections.push([title, present]);
    }
    const rest = new Map();
    for (const k of flat.keys()) {
      if (SETTING_GROUPS.some(([, keys]) => keys.includes(k))) continue;
      const sec = k.split('.')[0];
      if (!rest.has(sec)) rest.set(sec, []);
      rest.get(sec).push(k);
    }
    const SEC_TITLES = { backup: 'More backup settings', azure: 'More Azure settings', web: 'Dashboard', logging: 'Log', alerts: 'Alerts', maintenance: 'Maintenance', repository: 'More repository settings', versioning: 'More retention settings' };
    for (const [sec, keys] of rest) sections.push([SEC_TITLES[sec] || sec, keys]);
    const where = data.file ? [' ', h('code', { class: 'break' }, data.file)] : ' (none is in use yet: saving creates one)';
    const saveBtn = h('button', { type: 'button', class: 'primary', id: 'settings-save' }, 'Save changes');
    const actions = editing
      ? h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { editing = false; message = null; render(); } }, 'Cancel without saving'))
      : h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'settings-edit', onclick: () => { editing = true; message = null; render(); } }, 'Change settings'));
    const form = h('form', { onsubmit: (e) => e.preventDefault() },
      sections.map(([title, keys], i) => h('section', { class: 'card settings', 'aria-labelledby': `set-${i}` }, h('h2', { id: `set-${i}` }, title), h('dl', null, keys.map(item)))));
    saveBtn.addEventListener('click', async () => {
      const changed = {};
      let n = 0;
      for (const el of form.querySelectorAll('[data-key]')) {
        const key = el.getAttribute('data-key');
        const v = inputValue(el);
        if (JSON.stringify(v) === JSON.stringify(flat.get(key))) continue;
        if (typeof v === 'number' && !Number.isInteger(v)) { message = h('div', { class: 'notice error', role: 'alert' }, `${key}: a whole number is needed`); render(); return; }
        const [sec, k] = key.split('.');
        (changed[sec] = changed[sec] || {})[k] = v;
        n++;
      }
      if (!n) { editing = false; message = h('div', { class: 'notice info', role: 'status' }, 'Nothing was changed.'); render(); return; }
      saveBtn.disabled = true;
      try {
        const r = await api('/api/settings', { method: 'PUT', body: { settings: changed } });
        data = { file: r.file, settings: r.settings };
        editing = false;
        message = h('div', { class: r.applied ? 'notice ok' : 'notice warn', role: 'status', id: 'settings-saved' },
          r.applied ? `Saved and applied (${r.changed}).` : `Saved (${r.changed}); ${r.message}.`);
      } catch (e) {
        message = errorBox(e);
      }
      render();
    });
    clear(out,
      h('p', null, editing ? 'Change what you need, then save: the settings file' : 'These are the settings in force, from the settings file', where,
        editing ? ' is updated (its comments are kept, the previous one saved as .bak) and the change applies at once.' : '.'),
      message, actions, form, editing ? h('div', { class: 'actions' }, saveBtn) : null);
  };
  render();
};

// =================================================================== login
function renderLogin(message) {
  stopEvents();
  shell = null;
  if (scope) { scope.dispose(); scope = null; }
  state.session = null;
  document.title = 'Log in · cairn';
  const app = document.getElementById('app');
  const input = h('input', { type: 'password', id: 'l-token', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'l-help' });
  const show = h('input', { type: 'checkbox', id: 'l-show', onchange: () => { input.type = show.checked ? 'text' : 'password'; } });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const msg = h('div', { 'aria-live': 'assertive' }, message ? h('div', { class: 'notice info' }, message) : null);
  const form = h('form', { class: 'card login' },
    h('div', { class: 'brand' }, h('img', { src: '/icon.svg', alt: '' }), 'cairn'),
    h('h1', null, 'Log in to your backups'),
    h('p', null, 'The easiest way: open the link that ', h('code', null, 'cairn run'), ' or ', h('code', null, 'cairn serve'), ' printed when it started (it looks like ', h('code', { class: 'break' }, `${location.origin}/?token=…`), '). It logs you in by itself.'),
    h('div', { class: 'field' }, h('label', { for: 'l-token' }, 'Or paste the access token'), input),
    h('label', { class: 'check small', for: 'l-show' }, show, 'Show the token'),
    h('div', { id: 'l-help', class: 'small muted' },
      h('p', null, 'The token is in the file ', h('code', null, '~/.config/cairn/web-token'), ' of the user who runs cairn. In a terminal: ', h('code', null, 'cat ~/.config/cairn/web-token'))),
    msg,
    h('div', { class: 'row end' }, btn));
  let waitTimer = null;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) { input.focus(); return; }
    btn.disabled = true;
    clear(msg);
    try {
      const s = await api('/api/login', { method: 'POST', body: { token }, noAuthRedirect: true });
      input.value = '';
      csrfStore.set(s.csrf || '');
      startApp(s);
      return;
    } catch (err) {
      if (err.code === 'too many requests') {
        let left = err.retryAfter || 60;
        const line = h('div', { class: 'notice error', role: 'alert' });
        const tick = () => {
          line.textContent = `Too many wrong tokens were tried. For your safety, logging in is blocked for ${plural(left, 'second')}.`;
          if (left-- <= 0) { clearInterval(waitTimer); line.textContent = 'You can try again now.'; btn.disabled = false; }
        };
        tick();
        clearInterval(waitTimer);
        waitTimer = setInterval(tick, 1000);
        clear(msg, line);
        return;
      }
      clear(msg, err.status === 401 || err.status === 403
        ? h('div', { class: 'notice error', role: 'alert' }, 'That token is not right. Copy it again from the file or the link (the part after "token=").')
        : errorBox(err));
      btn.disabled = false;
      input.select();
    }
  });
  clear(app, h('main', { class: 'loginwrap' }, form));
  input.focus();
}

let ending = false;
function sessionEnded() {
  if (ending || !shell) return;
  ending = true;
  csrfStore.set('');
  setTimeout(() => { ending = false; renderLogin('Your session has ended (cairn was restarted, or you logged out elsewhere). Please log in again.'); }, 0);
}

// =================================================================== shell
function renderShell() {
  const app = document.getElementById('app');
  const live = h('span', { class: 'live', role: 'status' });
  const pill = h('a', { class: 'jobpill', href: href('activity'), hidden: true });
  const device = h('span', { class: 'who' });
  const logout = h('button', { type: 'button', class: 'small' }, 'Log out');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try { await api('/api/logout', { method: 'POST', noAuthRedirect: true }); } catch (e) { /* logged out anyway */ }
    csrfStore.set('');
    state.jobs.clear();
    state.status = null;
    renderLogin('You are logged out.');
  });
  const nav = h('nav', { class: 'nav', 'aria-label': 'Pages' }, h('ul', null,
    NAV.map(([page, label, ic]) => h('li', null, h('a', { href: href(page), 'data-page': page }, icon(ic), label)))));
  const main = h('main', { id: 'main' });
  clear(app, h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); const h1 = main.querySelector('h1'); if (h1) { h1.tabIndex = -1; h1.focus(); } } }, 'Skip to content'),
    h('div', { class: 'shell' },
      h('header', { class: 'topbar' },
        h('a', { class: 'brand', href: href('overview') }, h('img', { src: '/icon.svg', alt: '' }), 'cairn'),
        device, h('span', { class: 'spacer' }), pill, live, logout),
      nav, main));
  shell = { nav, main, live, pill, device, moved: false };
  setLive(false);
}

function startApp(session) {
  state.session = session;
  if (session && session.csrf) csrfStore.set(session.csrf);
  // The login page may have been opened at /login: the rest lives at "/".
  if (location.pathname !== '/') history.replaceState(null, '', `/${location.hash || ''}`);
  renderShell();
  refreshStatus().then(() => { if (shell && state.status) shell.device.textContent = state.status.device ? `device: ${state.status.device}` : ''; });
  loadDevices();
  refreshJobs().catch(() => {});
  startEvents();
  route();
}

async function boot() {
  // The login link answers with a redirect to /#csrf=...: keep the token, and
  // take it out of the address bar.
  const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (frag.get('csrf')) {
    csrfStore.set(frag.get('csrf'));
    history.replaceState(null, '', '/#/overview');
  } else state.csrf = csrfStore.get();
  const { name, params } = parseHash();
  if (name === 'login' && params.get('failed')) {
    history.replaceState(null, '', '/');
    renderLogin('The token in that link is not right (or no longer valid). Paste the token below, or open the link that cairn printed last.');
    return;
  }
  try {
    const s = await api('/api/session', { noAuthRedirect: true });
    if (!s.csrf && !state.csrf && /^session:/.test(s.who || '')) {
      // A cookie session whose CSRF token this browser does not have.
      renderLogin('Please log in again to continue.');
      return;
    }
    startApp(s);
  } catch (e) {
    if (e.status === 401) { renderLogin(); return; }
    if (e.status === 403 && /csrf/i.test(e.message)) { csrfStore.set(''); renderLogin('Your session in this browser has ended. Please log in again.'); return; }
    const app = document.getElementById('app');
    clear(app, h('main', { class: 'loginwrap' }, h('div', { class: 'card login' }, h('h1', null, 'cairn'), errorBox(e, () => { clear(app, h('p', { class: 'loading' }, 'Loading…')); boot(); }))));
  }
}
boot();
