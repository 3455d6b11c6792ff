// The dashboard in a real headless browser (issue 13, "Tests"): Debian's
// Chromium driven by playwright-core, against the real `cairn serve` and
// `cairn run` on a free loopback port, in a sandbox HOME. Each step asserts on
// the page and, where the step changes something, on disk.
//
// Run it with tests/browser/run.sh (installs what is missing); by hand:
//   CAIRN_BINARY=build/cmd/cairn/cairn_for_tests \
//   CAIRN_BROWSER_NODE_MODULES=~/.cache/cairn-npm-browser/node_modules \
//   node tests/browser/dashboard.test.mjs
//
// Environment:
//   CAIRN_BINARY                the cairn to run (the test build, cairn_for_tests: with
//                               CAIRN_TEST_CHEAP_KDF=1 its key derivation is fast)
//   CAIRN_BROWSER_NODE_MODULES  where playwright-core is installed (default: ./node_modules here)
//   CAIRN_CHROMIUM              the browser (default /usr/bin/chromium, Debian's)
//   CAIRN_SCREENSHOT_DIR        where the screenshots go (default: a new temp folder)
//   CAIRN_BROWSER_KEEP=1        keep the sandbox folder (printed) for a look afterwards
//   CAIRN_BROWSER_TIME_LIMIT    seconds for the whole run (default 420), then everything is stopped
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// ------------------------------------------------------------ prerequisites
function die(msg) {
  process.stderr.write(`dashboard.test: ${msg}\n`);
  process.exit(1);
}
const BINARY = process.env.CAIRN_BINARY || '';
const CHROMIUM = process.env.CAIRN_CHROMIUM || '/usr/bin/chromium';
const NODE_MODULES = process.env.CAIRN_BROWSER_NODE_MODULES || path.join(here, 'node_modules');
const TIME_LIMIT_S = Number(process.env.CAIRN_BROWSER_TIME_LIMIT || 420);

if (!BINARY) die('CAIRN_BINARY is not set: give the cairn binary to test (the build\'s cmd/cairn/cairn_for_tests).');
try { fs.accessSync(BINARY, fs.constants.X_OK); } catch { die(`CAIRN_BINARY=${BINARY} is not an executable file (build it: ninja cairn_for_tests).`); }
try { fs.accessSync(CHROMIUM, fs.constants.X_OK); } catch {
  die(`no Chromium at ${CHROMIUM}. Install Debian's: apt-get install chromium (tests/browser/run.sh does it when run as root), or set CAIRN_CHROMIUM.`);
}
let chromium;
try {
  ({ chromium } = createRequire(path.join(NODE_MODULES, 'noop.js'))('playwright-core'));
} catch (e) {
  die(`playwright-core is not installed in ${NODE_MODULES} (${e.code || e.message}). Run tests/browser/run.sh, which installs the pinned version with npm ci, or set CAIRN_BROWSER_NODE_MODULES.`);
}

// ------------------------------------------------------------------ sandbox
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-browser-'));
const home = path.join(root, 'home', 'ann');
const xdg = {
  XDG_CONFIG_HOME: path.join(home, '.config'),
  XDG_DATA_HOME: path.join(home, '.local', 'share'),
  XDG_CACHE_HOME: path.join(home, '.cache'),
  XDG_STATE_HOME: path.join(home, '.local', 'state'),
  XDG_RUNTIME_DIR: path.join(root, 'run'),
};
for (const d of [home, ...Object.values(xdg)]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
const DOCS = path.join(home, 'Documents');
const PICS = path.join(home, 'Pictures');
const SETTINGS = path.join(xdg.XDG_CONFIG_HOME, 'cairn', 'settings.yaml');
const TOKEN_FILE = path.join(xdg.XDG_CONFIG_HOME, 'cairn', 'web-token');
const REPORT = path.join(DOCS, 'report.txt');
const SHOTS = process.env.CAIRN_SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-screenshots-'));
fs.mkdirSync(SHOTS, { recursive: true });

const ENV = {
  PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
  HOME: home,
  ...xdg,
  TZ: 'UTC',
  LC_ALL: 'C',
  CAIRN_TEST_CHEAP_KDF: '1',
  CAIRN_PASSWORD: 'correct horse battery staple',
};
if (process.env.TMPDIR) ENV.TMPDIR = process.env.TMPDIR;

// The three versions of report.txt the timeline, the diff, the download and
// the restore work on.
const REPORT_V = [
  'Quarterly report\n\nSales were flat.\nCosts went down a little.\nNext steps: hire one person.\n',
  'Quarterly report\n\nSales grew by 4 percent.\nCosts went down a little.\nNext steps: hire one person.\n\nAppendix: the numbers.\n',
  'Quarterly report (final)\n\nSales grew by 4 percent.\nCosts went down a little.\nNext steps: hire two people.\n\nAppendix: the numbers.\nSigned: Ann\n',
];

function write(p, data, daysAgo) {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  if (daysAgo != null) {
    const t = new Date(Date.now() - daysAgo * 86400e3);
    fs.utimesSync(p, t, t);
  }
}
function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

// A port nothing listens on (the kernel's choice, released at once).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// ------------------------------------------------------------ cairn runs
let server = null; // { proc, err, exited: Promise<{code, signal}> }

function runCairn(args, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const p = spawn(BINARY, args, { env: ENV, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, err });
      else reject(new Error(`cairn ${args.join(' ')} failed (exit ${code}${signal ? ', ' + signal : ''}):\n${out}${err}`));
    });
  });
}

async function startServer(args, port) {
  const proc = spawn(BINARY, args, { env: ENV, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, args, err: '', done: false };
  proc.stdout.on('data', (d) => { s.err += d; });
  proc.stderr.on('data', (d) => { s.err += d; });
  s.exited = new Promise((resolve) => proc.on('exit', (code, signal) => { s.done = true; resolve({ code, signal }); }));
  server = s;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (s.done) throw new Error(`cairn ${args.join(' ')} exited at once:\n${s.err}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200 || r.status === 503) return s;
    } catch { /* not yet listening */ }
    await sleep(100);
  }
  throw new Error(`cairn ${args.join(' ')} did not answer /health on port ${port} within 30 s:\n${s.err}`);
}

// SIGTERM, then SIGKILL after 10 s. Returns the exit.
async function stopServer() {
  const s = server;
  if (!s) return null;
  server = null;
  if (!s.done) s.proc.kill('SIGTERM');
  const killer = setTimeout(() => { if (!s.done) s.proc.kill('SIGKILL'); }, 10_000);
  const t0 = Date.now();
  const r = await s.exited;
  clearTimeout(killer);
  return { ...r, err: s.err, seconds: (Date.now() - t0) / 1000 };
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Whatever happens (a failure, the time limit, Ctrl-C): no cairn left behind.
// (playwright-core closes the Chromium it launched when this process exits.)
process.on('exit', () => {
  if (server && !server.done) { try { server.proc.kill('SIGKILL'); } catch { /* gone */ } }
  if (!process.env.CAIRN_BROWSER_KEEP) { try { fs.rmSync(root, { recursive: true, force: true }); } catch { /* best effort */ } }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { process.stderr.write(`dashboard.test: ${sig}, stopping\n`); process.exit(1); });
setTimeout(() => {
  process.stderr.write(`dashboard.test: the time limit of ${TIME_LIMIT_S} s is over: stopping cairn and Chromium\n`);
  if (server) process.stderr.write(`cairn's output so far:\n${server.err}\n`);
  process.exit(1);
}, TIME_LIMIT_S * 1000).unref();

// ------------------------------------------------------------------ browser
let browser = null;
let page = null;
let port = 0;
let base = '';
const problems = { pageErrors: [], external: [], console: [] };

// A new browser context (no cookie, no storage: another browser, as it were)
// and its page; the page's script errors and requests are recorded.
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC' });
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => problems.pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.console.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.external.push(r.url()); });
}
// Closes the page's context. (Its idle keep-alive connections would hold the
// server's shutdown for its 5 s read timeout.)
async function closePage() {
  const p = page;
  page = null;
  if (p) await p.context().close();
}

// Until fn(arg) is true in the page. (Not page.waitForFunction: its polling
// evaluates a string, which the dashboard's Content-Security-Policy forbids.)
async function waitInPage(fn, arg, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s in vain for ${what}`);
    await sleep(100);
  }
}

function loginLink() {
  const token = fs.readFileSync(TOKEN_FILE, 'utf8').trim();
  assert.match(token, /^[0-9a-f]{32,}$/, `the token file ${TOKEN_FILE} holds a token`);
  return `${base}/?token=${token}`;
}
async function shot(name) {
  await page.mouse.move(1, 799); // no hover effect in the picture
  await page.waitForTimeout(300); // transitions settle
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, type: 'png' });
  return file;
}
// A request from the page, as the page makes them (cookie session + CSRF header).
function pageApi(p, method = 'GET') {
  return page.evaluate(async ([p, method]) => {
    const r = await fetch(p, { method, headers: { 'X-CSRF-Token': localStorage.getItem('cairn.csrf') || '' } });
    let body = null;
    try { body = await r.json(); } catch { /* not JSON */ }
    return { status: r.status, body };
  }, [p, method]);
}
function row(version) { return page.locator('table.list tbody tr').filter({ has: page.locator(`strong:text-is("#${version}")`) }); }

// ------------------------------------------------------------------- steps
// Each step is a test; after a failure the later steps are skipped (they
// build on it), and a screenshot of the failure is kept.
let failedStep = null;
function step(name, fn, timeoutMs = 60_000) {
  test(name, async (t) => {
    if (failedStep) { t.skip(`skipped: the step "${failedStep}" failed`); return; }
    let timer;
    try {
      await Promise.race([
        fn(t),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`the step took more than ${timeoutMs / 1000} s`)), timeoutMs); }),
      ]);
    } catch (e) {
      failedStep = name;
      if (page) {
        try {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-browser-failure-'));
          const f = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
          await page.screenshot({ path: f, timeout: 5000 });
          t.diagnostic(`screenshot of the failure: ${f}${process.env.CAIRN_BROWSER_KEEP ? ` (the sandbox ${root} is kept)` : ''}`);
        } catch { /* the page is gone */ }
      }
      if (server) t.diagnostic(`cairn's output so far:\n${server.err}`);
      throw e;
    } finally { clearTimeout(timer); }
  });
}

after(async () => {
  if (browser) await Promise.race([browser.close().catch(() => {}), sleep(10_000)]);
  await stopServer();
  process.stdout.write(`# screenshots: ${SHOTS}\n`);
});

step('sets up a sandbox: settings, repository, three versions of a text file', async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  write(SETTINGS, [
    '# cairn settings of the browser test',
    'backup:',
    '  watched_directories:',
    '    - ~/Documents',
    '    - ~/Pictures',
    '  # A full pass every hour.',
    '  backup_interval_minutes: 60',
    '  stability_seconds: 1',
    'repository:',
    '  device_id: laptop',
    'web:',
    `  port: ${port}`,
    '',
  ].join('\n'));
  write(REPORT, REPORT_V[0], 3);
  write(path.join(DOCS, 'notes.md'), '# Notes\n\n- call the bank\n- buy stamps\n', 5);
  write(path.join(DOCS, 'budget.csv'), 'month,rent,food\njan,900,320\nfeb,900,295\n', 20);
  write(path.join(DOCS, 'old-draft.txt'), 'A first draft, not needed any more.\n', 40);
  write(path.join(DOCS, 'Letters', 'to-the-landlord.txt'), 'Dear Mr Smith,\n\nthe heating is broken again.\n', 12);
  write(path.join(DOCS, 'Letters', 'thank-you-grandma.txt'), 'Dear Grandma,\n\nthank you for the scarf!\n', 30);
  write(path.join(PICS, 'holiday-beach.jpg'), crypto.randomBytes(180_000), 60);
  write(path.join(PICS, 'holiday-hills.jpg'), crypto.randomBytes(240_000), 60);
  for (const [d, days] of [[path.join(DOCS, 'Letters'), 12], [PICS, 60]]) {
    const t = new Date(Date.now() - days * 86400e3);
    fs.utimesSync(d, t, t);
  }
  await runCairn(['init']);
  await runCairn(['backup']);
  // Version 2, and the draft deleted (search finds it, marked deleted).
  write(REPORT, REPORT_V[1], 2);
  fs.rmSync(path.join(DOCS, 'old-draft.txt'));
  await runCairn(['backup']);
  write(REPORT, REPORT_V[2], 1);
  await runCairn(['backup']);
  const v = JSON.parse((await runCairn(['--json', 'versions', REPORT])).out);
  const list = Array.isArray(v) ? v : v.versions;
  assert.equal(list.length, 3, `cairn versions lists 3 versions of report.txt: ${JSON.stringify(v)}`);
});

step('cairn serve starts and names its address (not the token)', async () => {
  await startServer(['serve'], port);
  const st = fs.statSync(TOKEN_FILE);
  assert.equal(st.mode & 0o777, 0o600, 'the token file is 0600');
  const r = await fetch(`${base}/api/status`);
  assert.equal(r.status, 401, 'the API needs the token');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // A new, empty profile of its own (playwright makes one per launch).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
    timeout: 60_000,
  });
  await newPage();
  assert.match(server.err, new RegExp(`http://127\\.0\\.0\\.1:${port}/`), 'cairn serve prints its address');
  assert.ok(!server.err.includes(fs.readFileSync(TOKEN_FILE, 'utf8').trim()), 'the token is not printed when stderr is not a terminal');
});

step('the dashboard without a session shows the login page', async () => {
  await page.goto(`${base}/`);
  await page.waitForSelector('#l-token');
  assert.match(await page.textContent('main h1'), /Log in/);
  await shot('login');
});

step('logs in with the link', async () => {
  await page.goto(loginLink());
  await page.waitForSelector('.hero');
  const url = page.url();
  assert.ok(!/token=|csrf=/.test(url), `the token and the CSRF token leave the address bar: ${url}`);
  const cookies = await page.context().cookies();
  assert.ok(cookies.some((c) => c.httpOnly && c.sameSite === 'Strict'), `an HttpOnly SameSite=Strict session cookie: ${JSON.stringify(cookies)}`);
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is not readable by scripts');
});

step('sees the overview: protected, the folders, the counts, the charts', async () => {
  await page.waitForSelector('.hero.ok');
  assert.match(await page.textContent('.hero h2'), /Your files are protected/);
  assert.match(await page.textContent('.hero'), /Last successful backup/);
  const folders = await page.textContent('section[aria-labelledby=ov-folders]');
  assert.ok(folders.includes(DOCS) && folders.includes(PICS), `the backed-up folders are listed: ${folders}`);
  assert.match(await page.textContent('section[aria-labelledby=ov-count]'), /\d+ files/);
  await page.waitForSelector('section[aria-labelledby=ov-history] svg');
  await waitInPage(() => document.querySelector('.live')?.textContent === 'Live', null, 15_000, 'the Live indicator (event stream)');
  await waitInPage(() => !/Measuring/.test(document.querySelector('section[aria-labelledby=ov-storage]')?.textContent || 'Measuring'), null, 20_000, 'the repository measured');
  assert.match(await page.textContent('.who'), /laptop/, 'the device is named');
  await shot('overview');
});

step('browses to a file', async () => {
  await page.click('nav.nav a[data-page=files]');
  await page.click(`main a.button:has-text("${DOCS}")`); // the folder shortcut
  await page.waitForSelector('table.list tbody tr');
  const names = await page.locator('table.list tbody td.name').allTextContents();
  for (const n of ['report.txt', 'notes.md', 'budget.csv', 'Letters']) assert.ok(names.some((x) => x.trim() === n), `${n} is listed: ${names}`);
  assert.ok(!names.some((x) => x.includes('old-draft')), 'the deleted draft is not in the folder as it is now');
  await page.locator('table.list tbody tr:has-text("report.txt") input[type=checkbox]').check();
  assert.match(await page.textContent('.selbar'), /1 item selected/);
  await shot('files');
  await page.locator('table.list tbody tr:has-text("report.txt") input[type=checkbox]').uncheck();
  await page.click('table.list tbody td.name a:text-is("report.txt")');
});

step('opens its timeline: three versions, newest first', async () => {
  await page.waitForSelector('table.list tbody tr');
  assert.equal(await page.textContent('main h1'), 'report.txt');
  const rows = page.locator('table.list tbody tr');
  assert.equal(await rows.count(), 3);
  assert.match(await rows.nth(0).textContent(), /#3\s*newest/);
  assert.match(await rows.nth(2).textContent(), /#1.*First backup/s);
  await shot('timeline');
});

step('downloads a version: the bytes of version 2', async () => {
  const [dl] = await Promise.all([page.waitForEvent('download'), row(2).locator('a:has-text("Download")').click()]);
  assert.equal(dl.suggestedFilename(), 'report.txt');
  const file = await dl.path();
  assert.ok(file, `the download finished: ${await dl.failure()}`);
  assert.equal(fs.readFileSync(file, 'utf8'), REPORT_V[1]);
});

step('diffs two text versions side by side', async () => {
  await row(1).locator('input[type=checkbox]').check();
  await row(3).locator('input[type=checkbox]').check();
  await page.click('button:has-text("Compare the two ticked versions")');
  await page.waitForSelector('table.diff tbody');
  assert.match(await page.textContent('#diff h2'), /Changes from version 1 to version 3/);
  const del = (await page.locator('table.diff td.del').allTextContents()).join('\n');
  const ins = (await page.locator('table.diff td.ins').allTextContents()).join('\n');
  assert.ok(del.includes('Sales were flat.') && ins.includes('Sales grew by 4 percent.'), `changed line: -${del} +${ins}`);
  assert.ok(ins.includes('Signed: Ann'), 'an added line');
  assert.match(await page.textContent('.diffstat'), /added.*removed/s);
  await page.locator('#diff').scrollIntoViewIfNeeded();
  await page.evaluate(() => document.querySelector('#diff').scrollIntoView({ block: 'start' }));
  await shot('diff');
});

step('restores an older version: the file is byte-identical to version 1', async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.equal(fs.readFileSync(REPORT, 'utf8'), REPORT_V[2]);
  await row(1).locator('button:has-text("Restore")').click();
  await page.waitForSelector('dialog[open]');
  await page.click('dialog button:has-text("Check what will happen")');
  await page.waitForSelector('dialog .notice.warn');
  assert.match(await page.textContent('dialog .notice.warn'), /1 file already exists there/);
  assert.ok((await page.textContent('dialog .notice.warn')).includes(REPORT), 'the preview names the file it would replace');
  await page.check('#rd-ow-yes');
  await shot('restore');
  await page.click('dialog button:text-is("Restore")');
  await page.waitForSelector('dialog .job .badge.ok', { timeout: 30_000 });
  assert.match(await page.textContent('dialog .job .result'), /Restored 1 file/);
  assert.equal(fs.readFileSync(REPORT, 'utf8'), REPORT_V[0], 'report.txt on disk is version 1 again');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
});

step('finds a deleted file by searching', async () => {
  await page.click('nav.nav a[data-page=search]');
  await page.fill('#s-q', 'draft');
  await page.press('#s-q', 'Enter');
  await page.waitForSelector('table.list tbody tr');
  const r = page.locator('table.list tbody tr:has-text("old-draft.txt")');
  assert.match(await r.textContent(), /Deleted/);
  await shot('search');
});

step('changes a setting: it is in the settings file afterwards', async () => {
  await page.click('nav.nav a[data-page=settings]');
  await page.waitForSelector('main section.settings');
  assert.ok((await page.textContent('main')).includes(SETTINGS), 'the page names the settings file in use');
  await shot('settings');
  // backup.backup_interval_minutes 60 -> 90, and an exclude pattern added to the list.
  await page.click('#settings-edit');
  const minutes = page.locator('[data-key="backup.backup_interval_minutes"]');
  assert.equal(await minutes.inputValue(), '60');
  await minutes.fill('90');
  const excludes = page.locator('[data-key="backup.exclude_patterns"]');
  await excludes.fill(`${(await excludes.inputValue()).trim()}\n*.tmp`.trim());
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await shot('settings-edit');
  await page.click('#settings-save');
  await page.waitForSelector('#settings-saved');
  assert.match(await page.textContent('#settings-saved'), /Saved and applied/);
  const text = fs.readFileSync(SETTINGS, 'utf8');
  assert.match(text, /^ {2}backup_interval_minutes: 90$/m, `the settings file holds the new value:\n${text}`);
  // The list, in either YAML style: `[..., "*.tmp"]` or `- "*.tmp"` lines below.
  const list = (text.match(/^ {2}exclude_patterns:(.*(?:\n {4,}.*)*)/m) || [])[1] || '';
  assert.match(list, /(^|[\s[,-])"?\*\.tmp"?($|[\s\],])/, `the settings file holds the new pattern:\n${text}`);
  assert.match(text, /^ {2}# A full pass every hour\.$/m, 'its comments are kept');
  assert.match(text, /^ {2}device_id: laptop$/m, 'the other settings are kept');
  assert.match(fs.readFileSync(`${SETTINGS}.bak`, 'utf8'), /^ {2}backup_interval_minutes: 60$/m, 'the previous file is kept as settings.yaml.bak');
  await runCairn(['--json', 'versions', REPORT]); // cairn still reads the file
  // Applied without a restart: the server's settings, and the page anew.
  const api = await pageApi('/api/settings');
  assert.equal(api.body.settings.backup.backup_interval_minutes, 90);
  assert.ok(api.body.settings.backup.exclude_patterns.includes('*.tmp'));
  await page.reload();
  await page.waitForSelector('main section.settings');
  assert.match(await page.textContent('main'), /90 minutes/);
});

const SCANS = Number(process.env.SCANS || 2000);
step('starts a backup and watches its progress', async () => {
  // Something to back up: a folder of new files, enough for the job to run a moment.
  const scans = path.join(DOCS, 'Scans');
  for (let i = 1; i <= SCANS; i++) write(path.join(scans, `scan-${String(i).padStart(3, '0')}.pdf`), crypto.randomBytes(64 * 1024));
  await page.click('nav.nav a[data-page=backup]');
  await page.waitForSelector('button:has-text("Back up now")');
  // Every state the page shows of a job card, however briefly.
  await page.evaluate(() => {
    window.__jobStates = [];
    const seen = window.__jobStates;
    const record = () => {
      for (const el of document.querySelectorAll('.job')) {
        const s = [el.dataset.job, el.querySelector('.badge')?.textContent || '', el.querySelector('.detail')?.textContent || '',
          el.querySelector('.bar')?.getAttribute('aria-valuenow') || ''].join('|');
        if (!seen.includes(s)) seen.push(s);
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/backup/process') && r.request().method() === 'POST'),
    page.click('button:has-text("Back up now")'),
  ]);
  assert.equal(resp.status(), 202, 'the backup starts as a job');
  const job = await resp.json();
  const card = page.locator(`.job[data-job="${job.id}"]`);
  await card.waitFor();
  // A picture of the progress, when the job runs long enough for one.
  await waitInPage((id) => {
    const el = document.querySelector(`.job[data-job="${id}"]`);
    return !el || el.querySelector('.badge').textContent !== 'Running' || el.querySelector('.detail').textContent !== '';
  }, job.id, 60_000, 'the job ends or shows its progress');
  if ((await card.locator('.badge').textContent()) === 'Running') await shot('backup-running');
  await card.locator('.badge.ok').waitFor({ timeout: 60_000 });
  const result = await card.locator('.result').textContent();
  assert.match(result, new RegExp(`Backed up.*: ${SCANS.toLocaleString("en-US")} new`), `the result: ${result}`);
  const states = (await page.evaluate(() => window.__jobStates)).filter((s) => s.startsWith(job.id + '|'));
  assert.ok(states.some((s) => /\|(Running|Waiting)\|/.test(s)), `the page showed the job running before it ended: ${states.join(' ; ')}`);
  assert.ok(states.some((s) => /\|Running\|.+/.test(s) && s.split('|')[2]), `the page showed its progress (files, bytes): ${states.join(' ; ')}`);
  t_note(`backup job states seen: ${states.join(' ; ')}`);
  await shot('backup');
});

step('the Activity page lists the jobs of this session', async () => {
  await page.click('nav.nav a[data-page=activity]');
  await page.waitForSelector('section[aria-labelledby=a-jobs] .job');
  const jobs = await page.textContent('section[aria-labelledby=a-jobs]');
  assert.match(jobs, /Restore/);
  assert.match(jobs, /Backup/);
  await page.waitForSelector('section[aria-labelledby=a-runs] table');
});

step('logs out: the session no longer works', async () => {
  await page.click('button:has-text("Log out")');
  await page.waitForSelector('#l-token');
  assert.match(await page.textContent('main'), /You are logged out/);
  const r = await pageApi('/api/status');
  assert.equal(r.status, 401);
  await closePage();
  const exit = await stopServer();
  t_note(`cairn serve stopped ${exit.seconds} s after SIGTERM`);
  assert.equal(exit.code, 0, `cairn serve exits 0 on SIGTERM:\n${exit.err}`);
  assert.match(exit.err, /audit: restore/, 'the restore is in the audit log');
  assert.match(exit.err, /audit: download/, 'the download is in the audit log');
});

// ------------------------------------------------------------- cairn run
step('cairn run: logs in with the link again, the folders are watched', async () => {
  await startServer(['run'], port);
  await newPage();
  await page.goto(loginLink());
  await page.waitForSelector('.hero.ok', { timeout: 30_000 });
  // While cairn run sets up its watches the card names the folders and says
  // it is starting; the status the page receives every few seconds then
  // says they are watched.
  const card = 'section[aria-labelledby=ov-folders]';
  assert.match(await page.textContent(card), /Watched folders/);
  assert.ok((await page.textContent(card)).includes(DOCS), `the card names ${DOCS}`);
  await waitInPage((sel) => /Changes are backed up within seconds/.test(document.querySelector(sel)?.textContent ?? ''), card, 30_000, 'the folders watched');
});

step('cairn run: pauses and resumes protection', async () => {
  await page.click('button:has-text("Pause for 1 hour")');
  await page.waitForSelector('.hero.paused');
  assert.match(await page.textContent('.hero h2'), /Protection is paused/);
  assert.equal((await pageApi('/api/status')).body.paused, true, 'the daemon is paused');
  await shot('paused');
  await page.click('button:has-text("Resume protection")');
  await page.waitForSelector('.hero.ok');
  assert.equal((await pageApi('/api/status')).body.paused, false, 'the daemon runs again');
});

step('cairn run: a changed file gets a new version by itself', async () => {
  const notes = path.join(DOCS, 'notes.md');
  const before = (await pageApi(`/api/versions?path=${encodeURIComponent(notes)}`)).body.versions.length;
  fs.appendFileSync(notes, '- water the plants\n');
  await page.goto(`${base}/#/timeline?path=${encodeURIComponent(notes)}`);
  const deadline = Date.now() + 45_000;
  let n = 0;
  while (Date.now() < deadline) {
    await page.waitForSelector('table.list tbody tr');
    n = await page.locator('table.list tbody tr').count();
    if (n === before + 1) break;
    await sleep(1000);
    await page.reload();
  }
  assert.equal(n, before + 1, `a new version of notes.md appeared (${before} before)`);
});

step('cairn run: backs up now from the dashboard', async () => {
  await page.click('nav.nav a[data-page=backup]');
  assert.match(await page.textContent('main'), /cairn backs up your changes by itself within seconds/);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/backup/process') && r.request().method() === 'POST'),
    page.click('button:has-text("Back up now")'),
  ]);
  assert.equal(resp.status(), 202, 'the backup starts as a job');
  const card = page.locator(`.job[data-job="${(await resp.json()).id}"]`);
  await card.locator('.badge.ok').waitFor({ timeout: 60_000 });
  assert.match(await card.locator('.result').textContent(), /^Backed up/);
});

step('cairn run: the Activity page shows the jobs and the log', async () => {
  await page.click('nav.nav a[data-page=activity]');
  await page.waitForSelector('section[aria-labelledby=a-jobs] .job .badge.ok');
  await waitInPage(() => (document.querySelector('pre.log')?.textContent || '').length > 0, null, 20_000, 'the log shown');
  assert.doesNotMatch(await page.textContent('pre.log'), /The log is empty/);
  await shot('activity');
});

step('cairn run: logs out', async () => {
  await page.click('button:has-text("Log out")');
  await page.waitForSelector('#l-token');
  assert.equal((await pageApi('/api/status')).status, 401);
  await closePage();
  const exit = await stopServer();
  t_note(`cairn run stopped ${exit.seconds} s after SIGTERM`);
  assert.equal(exit.code, 0, `cairn run exits 0 on SIGTERM:\n${exit.err}`);
});

step('no script error, nothing loaded from another host', async () => {
  assert.deepEqual(problems.pageErrors, [], 'no uncaught error in the page');
  assert.deepEqual(problems.external, [], 'no request to another host');
  if (problems.console.length) process.stdout.write(`# console errors (not failures): ${problems.console.join(' | ')}\n`);
});

function t_note(s) { process.stdout.write(`# ${s}\n`); }
