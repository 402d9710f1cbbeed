/*
 * shipsync operator's console. One page with hash routes: #/ the overview (api/status every 2 s,
 * the charts of api/series every 10 s, the stuck panels of api/stuck every 5 s), #/order/REF one
 * order's page (api/orders/REF every 5 s) and #/search/Q a search's results (api/search).
 *
 * Every rendered value of the snapshot and of an order's record sits in an element with a
 * data-field attribute, holds plain text only and is formatted as documented in doc.go. Values
 * are set with textContent and setAttribute only, never parsed as markup. The charts are SVG
 * drawn here; each drawn point carries data-t (its step's start, as the JSON has it) and data-v
 * (the value plotted), and each chart's svg carries data-points (how many it drew).
 *
 * The admin listener may want a token: on a 401 the page asks for it, keeps it in this tab's
 * sessionStorage and sends it as "Authorization: Bearer" on every api/ request, with the name
 * the operator gave in X-Shipsync-Operator (for the daemon's log).
 */
(function () {
  'use strict';

  const POLL_MS = 2000;
  const SERIES_MS = 10000;
  const STUCK_MS = 5000;
  const ORDER_MS = 5000;
  const STALE_MS = 3 * POLL_MS;
  const DASH = '–';
  const TOKEN_KEY = 'shipsync.token';
  const OPERATOR_KEY = 'shipsync.operator';
  const NOCONFIRM_KEY = 'shipsync.noconfirm';
  const NO_ACTIONS = 'actions need admin.token';
  /* The SVG namespace, from the page's own svg elements (the parser puts them in it). */
  const SVG_NS = document.querySelector('svg[data-chart]').namespaceURI;

  const state = {
    actions: false, /* the snapshot's "actions": false, every POST would be refused */
    signedOut: false, /* the listener answered 401: waiting for the sign-in form */
    lastOK: 0,
    span: '1h',
    route: { view: 'overview', arg: '' },
    search: null, /* the last search's {q, rows}, for its results page */
    order: '', /* the JSON of the order page shown, to redraw only on change */
  };

  /* ---- formats (doc.go documents them; the browser tests rely on them) ---- */

  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  /* One decimal, halves up; doc.go and the browser test rely on exactly this. */
  function fixed1(x) { return isNum(x) ? (Math.round(x * 10) / 10).toFixed(1) : DASH; }
  function percent1(rate) { return isNum(rate) ? fixed1(rate * 100) : DASH; }
  function millis(sec) { return isNum(sec) ? String(Math.round(sec * 1000)) : DASH; }
  function integer(n) { return isNum(n) ? String(Math.round(n)) : DASH; }
  function text(s) { return (typeof s === 'string' && s !== '') ? s : DASH; }
  function yesno(b) { return b ? 'yes' : 'no'; }

  /* Milliseconds since the epoch of a JSON time; NaN for none (Go's zero time included). Go
   * sends up to 9 fractional digits; Date wants 3. */
  function parseTime(iso) {
    if (typeof iso !== 'string' || iso === '') return NaN;
    const d = new Date(iso.replace(/(\.\d{3})\d+/, '$1'));
    if (isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return NaN;
    return d.getTime();
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  /* Local time as "2006-01-02 15:04:05". */
  function localTime(iso) {
    const ms = parseTime(iso);
    if (isNaN(ms)) return DASH;
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  /* Local "15:04" (with seconds: "15:04:05") of milliseconds since the epoch. */
  function clock(ms, seconds) {
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (seconds ? ':' + pad(d.getSeconds()) : '');
  }

  /* A duration in seconds, short: "45s", "12m", "3h 5m", "2d 4h". */
  function duration(sec) {
    if (!isNum(sec)) return DASH;
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return sec + 's';
    const m = Math.floor(sec / 60);
    if (m < 60) return m + 'm';
    const h = Math.floor(m / 60);
    if (h < 24) return h + 'h' + (m % 60 ? ' ' + (m % 60) + 'm' : '');
    return Math.floor(h / 24) + 'd' + (h % 24 ? ' ' + (h % 24) + 'h' : '');
  }

  function age(iso) {
    const ms = parseTime(iso);
    return isNaN(ms) ? DASH : duration((Date.now() - ms) / 1000);
  }

  function until(iso) {
    const ms = parseTime(iso);
    if (isNaN(ms)) return DASH;
    const s = (ms - Date.now()) / 1000;
    return s <= 0 ? 'due now' : 'in ' + duration(s);
  }

  /* ---- DOM helpers ---- */

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined && content !== null) e.textContent = content;
    return e;
  }

  function setField(name, value) {
    const e = document.querySelector('[data-field="' + name + '"]');
    if (e) e.textContent = value;
  }

  function cell(field, value, cls) {
    const td = el('td', cls, value);
    if (field) td.setAttribute('data-field', field);
    return td;
  }

  function level(e, cls) {
    e.classList.remove('warn', 'bad');
    if (cls) e.classList.add(cls);
  }

  function emptyRow(cols, msg) {
    const tr = document.createElement('tr');
    const td = cell('', msg, 'empty');
    td.colSpan = cols;
    tr.append(td);
    return tr;
  }

  function orderHref(key) { return '#/order/' + encodeURIComponent(key); }

  function orderLink(key, label, field) {
    if (typeof key !== 'string' || key === '') {
      const s = el('span', '', text(label));
      if (field) s.setAttribute('data-field', field);
      return s;
    }
    const a = el('a', '', text(label || key));
    a.href = orderHref(key);
    if (field) a.setAttribute('data-field', field);
    return a;
  }

  function badge(label, cls, title) {
    const b = el('span', 'badge' + (cls ? ' ' + cls : ''), label);
    if (title) b.title = title;
    return b;
  }

  /* An action button: disabled while actions are off (see applyActions). */
  function actionButton(label, run, cls) {
    const b = el('button', 'act' + (cls ? ' ' + cls : ''), label);
    b.type = 'button';
    b.addEventListener('click', async () => {
      b.setAttribute('data-busy', '1');
      applyActions();
      try {
        await run();
      } finally {
        b.removeAttribute('data-busy');
        applyActions();
      }
    });
    return b;
  }

  function applyActions() {
    for (const b of document.querySelectorAll('button.act')) {
      b.disabled = !state.actions || b.hasAttribute('data-busy');
      if (state.actions) b.removeAttribute('title');
      else b.title = NO_ACTIONS;
    }
    document.getElementById('footer').classList.toggle('readonly', !state.actions);
  }

  /* ---- the message area ---- */

  let messageTimer = 0;

  function say(msg, cls) {
    const m = document.getElementById('message');
    clearTimeout(messageTimer);
    m.textContent = msg;
    m.className = 'message' + (cls ? ' ' + cls : '');
    m.hidden = false;
    if (cls !== 'bad') messageTimer = setTimeout(() => { m.hidden = true; }, 15000);
  }

  /* ---- requests ---- */

  function stored(k) {
    try { return sessionStorage.getItem(k) || ''; } catch (e) { return ''; }
  }

  function store(k, v) {
    try {
      if (v) sessionStorage.setItem(k, v);
      else sessionStorage.removeItem(k);
    } catch (e) { /* storage off: the page works until reloaded */ }
  }

  /* A header value as its UTF-8 bytes, one character each: fetch takes only Latin-1 characters
   * in headers and sends each as one byte, so a name like 值班 arrives as UTF-8. Control
   * characters, which no header may hold, are dropped. */
  function headerValue(s) {
    const clean = String(s).replace(/[\u0000-\u001f\u007f]/g, '').trim();
    return String.fromCharCode(...new TextEncoder().encode(clean));
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body || ('status ' + status));
      this.status = status;
      this.body = body;
    }
  }

  /* fetch a relative api path with the stored token and operator; the parsed JSON, or an
   * ApiError with the answer's status and its body text. A 401 shows the sign-in form. */
  async function api(path, method) {
    const headers = { Accept: 'application/json' };
    const token = stored(TOKEN_KEY);
    const who = stored(OPERATOR_KEY);
    if (token) headers.Authorization = 'Bearer ' + headerValue(token);
    if (who) headers['X-Shipsync-Operator'] = headerValue(who);
    const res = await fetch(path, { method: method || 'GET', headers: headers, cache: 'no-store' });
    if (!res.ok) {
      let body = '';
      try { body = (await res.text()).trim(); } catch (e) { /* no body */ }
      if (res.status === 401) signIn(token ? 'the token was refused' : '');
      throw new ApiError(res.status, body);
    }
    return res.json();
  }

  function failure(e) {
    if (e instanceof ApiError) return e.body ? e.body + ' (' + e.status + ')' : 'status ' + e.status;
    return 'the daemon did not answer';
  }

  /* A loop runs fn now and then every ms after it ends; run() runs it at once (or right after
   * the run in progress). */
  function loop(ms, fn) {
    let timer = 0;
    let running = false;
    let again = false;
    async function run() {
      clearTimeout(timer);
      if (running) { again = true; return; }
      running = true;
      try {
        await fn();
      } catch (e) {
        if (!(e instanceof ApiError)) console.error(e);
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        } else {
          timer = setTimeout(run, ms);
        }
      }
    }
    return { run: run };
  }

  /* ---- sign in ---- */

  function signIn(why) {
    state.signedOut = true;
    const f = document.getElementById('signin');
    const err = document.getElementById('signin-error');
    if (why) store(TOKEN_KEY, '');
    err.textContent = why || '';
    err.hidden = !why;
    document.getElementById('operator').value = stored(OPERATOR_KEY);
    document.querySelector('main').hidden = true;
    document.getElementById('who').hidden = true;
    setConn('sign in needed', false);
    if (f.hidden) {
      f.hidden = false;
      document.getElementById('token').focus();
    }
  }

  function showWho() {
    const token = stored(TOKEN_KEY);
    const who = stored(OPERATOR_KEY);
    document.getElementById('who').hidden = !token && !who;
    document.getElementById('who-name').textContent = who ? 'signed in as ' + who : (token ? 'signed in' : '');
  }

  function signedIn() {
    state.signedOut = false;
    document.getElementById('signin').hidden = true;
    document.querySelector('main').hidden = false;
    showWho();
  }

  /* ---- overview: the snapshot ---- */

  function renderTiles(s) {
    setField('now', localTime(s.now));
    setField('ready', s.ready ? 'yes' : 'no');
    setField('binlog_lag_seconds', fixed1(s.binlog_lag_seconds));
    setField('checkpoint', text(s.checkpoint));
    setField('checkpoint_age_seconds', fixed1(s.checkpoint_age_seconds));
    setField('orders_per_minute', fixed1(s.orders_per_minute));
    setField('retry_queue', integer(s.retry_queue));
    setField('dead_letter', integer(s.dead_letter));
    setField('stale_parcels', integer(s.stale_parcels));
    setField('cancel_after_pickup', integer(s.cancel_after_pickup));
    level(document.getElementById('tile-ready'), s.ready ? '' : 'bad');
    level(document.getElementById('tile-lag'), s.binlog_lag_seconds >= 60 ? 'bad' : s.binlog_lag_seconds >= 5 ? 'warn' : '');
    level(document.getElementById('tile-retry'), s.retry_queue > 0 ? 'warn' : '');
    level(document.getElementById('tile-dead'), s.dead_letter > 0 ? 'bad' : '');
    level(document.getElementById('tile-stale'), s.stale_parcels > 0 ? 'warn' : '');
    level(document.getElementById('tile-intercept'), s.cancel_after_pickup > 0 ? 'bad' : '');
  }

  function renderCarriers(list) {
    const rows = (Array.isArray(list) ? list : []).map((c) => {
      const f = 'carrier-' + c.name + '-';
      const tr = document.createElement('tr');
      if (c.paused) tr.className = 'paused';
      const rateCls = !isNum(c.success_rate) || c.requests === 0 ? 'num' :
        c.success_rate < 0.9 ? 'num bad' : c.success_rate < 0.99 ? 'num warn' : 'num';
      const name = document.createElement('td');
      const n = el('span', '', text(c.name));
      n.setAttribute('data-field', f + 'name');
      name.append(n);
      if (c.paused) name.append(badge('paused', 'warn', 'new orders go to routing.failover'));
      const act = el('td', 'acts');
      act.append(c.paused ?
        actionButton('Resume', () => pauseCarrier(c.name, false)) :
        actionButton('Pause', () => pauseCarrier(c.name, true)));
      tr.append(
        name,
        cell(f + 'requests', integer(c.requests), 'num'),
        cell(f + 'success', percent1(c.success_rate), rateCls),
        cell(f + 'p50', millis(c.p50_seconds), 'num'),
        cell(f + 'p99', millis(c.p99_seconds), 'num'),
        act);
      return tr;
    });
    document.getElementById('carriers').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'no carrier requests yet')]));
  }

  function renderLatest(list) {
    const rows = (Array.isArray(list) ? list : []).map((o, i) => {
      const f = 'latest-' + i + '-';
      const tr = document.createElement('tr');
      if (o.key) tr.setAttribute('data-order', o.key);
      const code = el('td', 'mono');
      code.append(orderLink(o.key, text(o.order_code), f + 'order_code'));
      const status = document.createElement('td');
      const st = el('span', '', text(o.status));
      st.setAttribute('data-field', f + 'status');
      status.append(st);
      if (o.exception) {
        const b = badge('exception');
        b.setAttribute('data-field', f + 'exception');
        status.append(b);
      }
      tr.append(
        code,
        cell(f + 'carrier', text(o.carrier)),
        cell(f + 'waybill', text(o.waybill), 'mono'),
        cell(f + 'state', text(o.state), o.state === 'dead' || o.state === 'conflict' ? 'bad' : ''),
        status,
        cell(f + 'receiver', text(o.receiver)),
        cell(f + 'phone', text(o.phone), 'mono'),
        cell(f + 'address', text(o.address)),
        cell(f + 'updated_at', localTime(o.updated_at), 'mono'));
      return tr;
    });
    document.getElementById('latest').replaceChildren(...(rows.length ? rows : [emptyRow(9, 'no orders yet')]));
  }

  function renderLabels(l) {
    const section = document.getElementById('labels');
    section.hidden = !l;
    if (!l) return;
    setField('labels-unprinted', integer(l.unprinted));
    const print = document.getElementById('labels-print');
    print.hidden = !(l.unprinted > 0) || !l.url;
    if (l.url) print.href = l.url;
    const rows = (Array.isArray(l.batches) ? l.batches : []).map((b, i) => {
      const f = 'label-batch-' + i + '-';
      const tr = document.createElement('tr');
      const open = document.createElement('td');
      if (b.url) {
        const a = el('a', '', 'print');
        a.href = b.url;
        a.target = '_blank';
        a.rel = 'noopener';
        open.append(a);
      }
      tr.append(
        cell(f + 'id', text(b.id), 'mono'),
        cell(f + 'at', localTime(b.at), 'mono'),
        cell(f + 'count', integer(b.count), 'num'),
        open);
      return tr;
    });
    document.getElementById('label-batches').replaceChildren(...(rows.length ? rows : [emptyRow(4, 'no batch printed today')]));
  }

  function setConn(msg, ok) {
    const e = document.getElementById('conn');
    e.textContent = msg;
    e.className = 'conn ' + (ok ? 'live' : 'down');
    document.querySelector('main').classList.toggle('stale', !ok && Date.now() - state.lastOK > STALE_MS);
  }

  async function pollStatus() {
    if (state.signedOut) return;
    let s;
    try {
      s = await api('api/status');
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.status !== 401) setConn('unavailable (' + e.status + ')', false);
      } else {
        setConn('offline', false);
      }
      return;
    }
    signedIn();
    renderTiles(s);
    renderCarriers(s.carriers);
    renderLatest(s.latest);
    renderLabels(s.labels);
    state.actions = s.actions === true;
    applyActions();
    state.lastOK = Date.now();
    setConn('live', true);
  }

  /* ---- overview: the charts ---- */

  const W = 640;
  const H = 220;
  const PAD = { l: 48, r: 48, t: 22, b: 24 };

  function svg(name, attrs, parent) {
    const e = document.createElementNS(SVG_NS, name);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.append(e);
    return e;
  }

  /* A nice step at least x: 1, 2, 2.5 or 5 times a power of ten. */
  function niceStep(x) {
    if (!(x > 0)) return 1;
    const e = Math.pow(10, Math.floor(Math.log10(x)));
    const f = x / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * e;
  }

  /* An axis from 0 to a nice max at least max, with n (3 or 4, or as given) gridlines. */
  function axis(max, whole, n) {
    if (!(max > 0)) max = 1;
    let step;
    if (n) {
      step = niceStep(max / n);
      if (whole && step < 1) step = 1;
    } else {
      step = niceStep(max / 4);
      if (whole && step < 1) step = 1;
      n = Math.max(3, Math.ceil(max / step - 1e-9));
    }
    return { n: n, step: step, max: step * n };
  }

  function axisLabel(v, step) {
    const dec = Number.isInteger(step) ? 0 : Number.isInteger(Math.round(step * 1e6) / 1e5) ? 1 :
      Number.isInteger(Math.round(step * 1e6) / 1e4) ? 2 : 3;
    if (dec === 0 && v >= 10000) return (v / 1000) + 'k';
    return v.toFixed(dec);
  }

  /* Local-time ticks between from and to (milliseconds): at most 7, on whole minutes or hours. */
  function timeTicks(from, to) {
    const steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440];
    let m = steps[steps.length - 1];
    for (const c of steps) {
      if ((to - from) / (c * 60000) <= 6) { m = c; break; }
    }
    const d = new Date(from);
    d.setSeconds(0, 0);
    if (m < 60) {
      d.setMinutes(Math.floor(d.getMinutes() / m) * m);
    } else {
      const h = m / 60;
      d.setMinutes(0);
      d.setHours(Math.floor(d.getHours() / h) * h);
    }
    const out = [];
    for (let t = d.getTime(); t <= to && out.length < 50; t += m * 60000) {
      if (t >= from) out.push(t);
    }
    return out;
  }

  /*
   * draw renders one chart into its svg. c: {lines: [{label, cls, right, bar, values: [{t, iso,
   * v}]}], left: {whole, n, unit}, right: {whole, percent, unit}}; a value is drawn only where
   * the series has it, and a line breaks where a step is missing.
   */
  function draw(chart, c, from, to, stepMs) {
    const root = document.querySelector('svg[data-chart="' + chart + '"]');
    root.replaceChildren();
    root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const x0 = PAD.l;
    const x1 = W - PAD.r;
    const y0 = H - PAD.b;
    const y1 = PAD.t;
    const drawn = c.lines.reduce((n, l) => n + l.values.length, 0);
    root.setAttribute('data-points', String(drawn));
    svg('rect', { x: x0, y: y1, width: x1 - x0, height: y0 - y1, class: 'plot' }, root);
    if (drawn === 0) {
      svg('text', { x: (x0 + x1) / 2, y: (y0 + y1) / 2, class: 'nodata', 'text-anchor': 'middle' }, root).textContent = 'no data yet';
      return;
    }
    const maxOf = (right) => c.lines.filter((l) => !!l.right === right)
      .reduce((m, l) => l.values.reduce((mm, p) => Math.max(mm, p.v), m), 0);
    const left = axis(maxOf(false), c.left.whole, c.left.n);
    let right = null;
    if (c.lines.some((l) => l.right)) {
      right = c.right.percent ? { n: left.n, step: 100 / left.n, max: 100 } : axis(maxOf(true), c.right.whole, left.n);
    }
    const xs = (t) => x0 + (t - from) / (to - from) * (x1 - x0);
    const ys = (v, a) => y0 - Math.min(v / a.max, 1.05) * (y0 - y1);

    const grid = svg('g', { class: 'grid' }, root);
    for (let i = 0; i <= left.n; i++) {
      const y = ys(left.step * i, left);
      svg('line', { x1: x0, x2: x1, y1: y, y2: y, class: i === 0 ? 'base' : '' }, grid);
      svg('text', { x: x0 - 6, y: y + 4, 'text-anchor': 'end', class: 'ylabel' }, grid).textContent = axisLabel(left.step * i, left.step);
      if (right) {
        const v = right.step * i;
        const label = c.right.percent ? String(Math.round(v)) : axisLabel(v, right.step);
        svg('text', { x: x1 + 6, y: y + 4, 'text-anchor': 'start', class: 'ylabel right' }, grid).textContent = label;
      }
    }
    if (c.left.unit) svg('text', { x: x0 - 6, y: 10, 'text-anchor': 'end', class: 'unit' }, grid).textContent = c.left.unit;
    if (right && c.right.unit) svg('text', { x: x1 + 6, y: 10, 'text-anchor': 'start', class: 'unit' }, grid).textContent = c.right.unit;
    for (const t of timeTicks(from, to)) {
      const x = xs(t);
      svg('line', { x1: x, x2: x, y1: y0, y2: y0 + 4, class: 'tick' }, grid);
      svg('text', { x: x, y: H - 6, 'text-anchor': 'middle', class: 'xlabel' }, grid).textContent = clock(t);
    }

    const marks = svg('g', { class: 'marks' }, root);
    /* Dots small where they are dense (an hour of 10 s steps), larger where they are few. */
    const radius = (x1 - x0) / ((to - from) / stepMs) < 4 ? 1.5 : 2.4;
    const dots = svg('g', { class: 'dots' }, root);
    for (const l of c.lines) {
      const a = l.right ? right : left;
      const tip = (p) => clock(p.t, true) + '  ' + l.label + ': ' + (l.fmt ? l.fmt(p.v) : String(p.v)) + (l.unit ? ' ' + l.unit : '');
      if (l.bar) {
        for (const p of l.values) {
          const xa = xs(p.t);
          const w = Math.max(xs(p.t + stepMs) - xa, 0.5);
          const y = ys(p.v, a);
          const r = svg('rect', {
            x: xa + w * 0.1, y: Math.min(y, y0 - 0.5), width: Math.max(w * 0.8, 0.5), height: Math.max(y0 - y, 0.5),
            class: 'bar ' + l.cls, 'data-t': p.iso, 'data-v': String(p.v), 'data-series': l.key,
          }, marks);
          svg('title', {}, r).textContent = tip(p);
        }
        continue;
      }
      let d = '';
      let prev = NaN;
      for (const p of l.values) {
        const x = xs(p.t + stepMs / 2).toFixed(1);
        const y = ys(p.v, a).toFixed(1);
        d += (p.t - prev > stepMs * 1.5 || isNaN(prev) ? 'M' : 'L') + x + ',' + y;
        prev = p.t;
        const dot = svg('circle', {
          cx: x, cy: y, r: radius, class: 'pt ' + l.cls, 'data-t': p.iso, 'data-v': String(p.v), 'data-series': l.key,
        }, dots);
        svg('title', {}, dot).textContent = tip(p);
      }
      if (d) svg('path', { d: d, class: 'line ' + l.cls, 'data-series': l.key }, marks);
    }
  }

  function legend(chart, items) {
    const box = document.querySelector('[data-legend="' + chart + '"]');
    box.replaceChildren(...items.map((it) => {
      const s = el('span', 'item');
      s.append(el('span', 'swatch ' + it.cls), document.createTextNode(it.label));
      return s;
    }));
  }

  function round1(x) { return Math.round(x * 10) / 10; }

  function renderSeries(s) {
    const stepSec = isNum(s.step_seconds) && s.step_seconds > 0 ? s.step_seconds : (state.span === '1d' ? 300 : 10);
    const stepMs = stepSec * 1000;
    const points = (Array.isArray(s.points) ? s.points : [])
      .map((p) => ({ p: p, t: parseTime(p.t) }))
      .filter((x) => !isNaN(x.t))
      .sort((a, b) => a.t - b.t);
    let from = parseTime(s.from);
    let to = parseTime(s.to);
    if (isNaN(from) || isNaN(to) || to <= from) {
      to = points.length ? points[points.length - 1].t + stepMs : Date.now();
      from = points.length ? Math.min(points[0].t, to - stepMs) : to - (state.span === '1d' ? 86400000 : 3600000);
    }
    const values = (f) => points.filter((x) => isNum(f(x.p))).map((x) => ({ t: x.t, iso: x.p.t, v: f(x.p) }));

    draw('shipped', {
      lines: [{ key: 'shipped', label: 'shipped', unit: '/min', cls: 's0', bar: true, fmt: (v) => String(round1(v)),
        values: values((p) => isNum(p.shipped) ? p.shipped * 60 / stepSec : NaN) }],
      left: { whole: false },
    }, from, to, stepMs);
    legend('shipped', [{ cls: 's0 bar', label: 'orders shipped per minute (' + duration(stepSec) + ' steps)' }]);

    draw('lag', {
      lines: [
        { key: 'lag', label: 'binlog lag', unit: 's', cls: 's0', values: values((p) => p.lag_seconds) },
        { key: 'backlog', label: 'backlog', cls: 's1', right: true, values: values((p) => p.backlog) },
      ],
      left: { whole: false, unit: 's' }, right: { whole: true },
    }, from, to, stepMs);
    legend('lag', [{ cls: 's0', label: 'binlog lag, s (left)' }, { cls: 's1', label: 'backlog: queue + pending (right)' }]);

    const names = Array.isArray(s.carriers) ? s.carriers.slice() : [];
    for (const x of points) {
      for (const n of Object.keys(x.p.carriers || {})) if (!names.includes(n)) names.push(n);
    }
    const lines = [];
    const items = [];
    names.forEach((n, i) => {
      const cls = 's' + (i % 6);
      const cp = (p) => {
        const c = p.carriers && p.carriers[n];
        return c && c.requests > 0 ? c : null;
      };
      const of = (f) => points.filter((x) => cp(x.p) && isNum(f(cp(x.p))))
        .map((x) => ({ t: x.t, iso: x.p.t, v: f(cp(x.p)) }));
      lines.push(
        { key: n + '-p50', label: n + ' p50', unit: 'ms', cls: cls, values: of((c) => round1(c.p50_seconds * 1000)) },
        { key: n + '-p99', label: n + ' p99', unit: 'ms', cls: cls + ' dash', values: of((c) => round1(c.p99_seconds * 1000)) },
        { key: n + '-success', label: n + ' success', unit: '%', cls: cls + ' dot', right: true, values: of((c) => round1(c.success_rate * 100)) });
      items.push({ cls: cls, label: n });
    });
    draw('carriers', { lines: lines, left: { whole: false, n: 4, unit: 'ms' }, right: { percent: true, unit: '%' } }, from, to, stepMs);
    if (items.length) {
      items.push({ cls: 'key', label: 'p50 ms' }, { cls: 'key dash', label: 'p99 ms' }, { cls: 'key dot', label: 'success % (right)' });
    }
    legend('carriers', items);

    draw('depth', {
      lines: [
        { key: 'dead', label: 'dead letter', cls: 's3', values: values((p) => p.dead) },
        { key: 'retry', label: 'retry schedule', cls: 's1', values: values((p) => p.retry) },
      ],
      left: { whole: true },
    }, from, to, stepMs);
    legend('depth', [{ cls: 's3', label: 'dead letter' }, { cls: 's1', label: 'retry schedule' }]);

    document.getElementById('charts-note').textContent = 'one point per ' + duration(stepSec) + ', ' +
      clock(from) + ' to ' + clock(to) + '; gaps: the daemon did not run';
  }

  async function pollSeries() {
    if (state.signedOut || state.route.view !== 'overview') return;
    const span = state.span;
    const section = document.getElementById('charts');
    let s;
    try {
      s = await api('api/series?span=' + encodeURIComponent(span));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) section.hidden = true; /* no console here */
      else document.getElementById('charts-note').textContent = 'history unavailable: ' + failure(e);
      return;
    }
    if (span !== state.span) return; /* switched meanwhile: the switch fetches its own */
    section.hidden = false;
    renderSeries(s);
  }

  function switchSpan(span) {
    state.span = span;
    for (const b of document.querySelectorAll('#charts [data-span]')) {
      const on = b.getAttribute('data-span') === span;
      b.classList.toggle('on', on);
      b.setAttribute('aria-pressed', String(on));
    }
    loops.series.run();
  }

  /* ---- overview: the stuck panels ---- */

  function reasonCell(reason) {
    const td = el('td', 'reason', text(reason));
    if (reason) td.title = reason;
    return td;
  }

  function timeCell(value, iso) {
    const td = el('td', 'mono', value);
    const full = localTime(iso);
    if (full !== DASH) td.title = full;
    return td;
  }

  function stuckTable(id, rows, cols, cells) {
    const list = Array.isArray(rows) ? rows : [];
    const trs = list.map((r) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-order', String(r.order));
      const code = el('td', 'mono');
      code.append(orderLink(r.order, r.order_code || r.order));
      if (r.pinned) code.append(badge('pinned', 'warn', 'only its carrier may be asked again: it may hold the waybill'));
      tr.append(code, ...cells(r));
      return tr;
    });
    document.querySelector('#' + id + ' tbody').replaceChildren(...(trs.length ? trs : [emptyRow(cols, 'nothing here')]));
    document.getElementById(id + '-count').textContent = list.length ? '(' + list.length + ')' : '';
  }

  function renderStuck(s) {
    stuckTable('stuck-dead', s.dead, 6, (r) => {
      const acts = el('td', 'acts');
      acts.append(
        actionButton('Retry', () => deadAction(r.order, r.order_code, 'retry')),
        actionButton('Drop', () => deadAction(r.order, r.order_code, 'drop'), 'danger'));
      return [el('td', '', text(r.carrier)), el('td', 'num', integer(r.attempts)), reasonCell(r.reason),
        timeCell(age(r.since), r.since), acts];
    });
    stuckTable('stuck-retrying', s.retrying, 5, (r) => [el('td', '', text(r.carrier)), el('td', 'num', integer(r.attempts)),
      reasonCell(r.reason), timeCell(until(r.due), r.due)]);
    stuckTable('stuck-flagged', s.flagged, 5, (r) => [el('td', 'mono', text(r.waybill)), el('td', '', text(r.carrier)),
      reasonCell(r.reason), timeCell(localTime(r.since), r.since)]);
    stuckTable('stuck-waiting', s.waiting, 5, (r) => [el('td', '', text(r.carrier)), el('td', 'num', integer(r.attempts)),
      reasonCell(r.reason), timeCell(age(r.since), r.since)]);
    document.getElementById('stuck-after').textContent = duration(s.stuck_after_seconds);
    applyActions();
  }

  async function pollStuck() {
    if (state.signedOut || state.route.view !== 'overview') return;
    const section = document.getElementById('stuck');
    const note = document.getElementById('stuck-note');
    let s;
    try {
      s = await api('api/stuck');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) section.hidden = true;
      else note.textContent = 'unavailable: ' + failure(e);
      return;
    }
    section.hidden = false;
    note.textContent = '';
    renderStuck(s);
  }

  /* ---- actions ---- */

  function confirmed(question) {
    return stored(NOCONFIRM_KEY) === '1' || window.confirm(question);
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  /* post runs one action: POST path, then the message what(answer) or the refusal, then the
   * loops named in refresh at once. */
  async function post(name, path, what, refresh) {
    try {
      const res = await api(path, 'POST');
      say(what(res), '');
    } catch (e) {
      say(name + ': ' + failure(e), 'bad');
    } finally {
      for (const l of refresh) loops[l].run();
    }
  }

  function dlqMessage(verb, res) {
    const done = Array.isArray(res.orders) ? res.orders : [];
    const missed = Array.isArray(res.missed) ? res.missed : [];
    let m = verb + ' ' + plural(done.length, 'order') + (done.length ? ': ' + done.join(', ') : '');
    if (missed.length) m += '; not in the dead letter (any more): ' + missed.join(', ');
    return m;
  }

  async function deadAction(key, code, act) {
    const label = code && code !== key ? code + ' (' + key + ')' : key;
    const q = act === 'drop' ?
      'Drop order ' + label + ' from the dead letter? shipsync will never ship it.' :
      'Retry order ' + label + ' now?';
    if (!confirmed(q)) return;
    await post(act + ' ' + key, 'api/dlq/' + encodeURIComponent(key) + '/' + act,
      (res) => dlqMessage(act === 'drop' ? 'dropped' : 'retried', res), ['stuck', 'status', 'order']);
  }

  async function retryReason() {
    const reason = document.getElementById('retry-reason').value.trim();
    if (!reason) {
      say('type the text the reasons contain', 'warn');
      return;
    }
    if (!confirmed('Retry every dead-lettered order whose reason contains "' + reason + '"?')) return;
    await post('retry "' + reason + '"', 'api/dlq/retry?reason=' + encodeURIComponent(reason),
      (res) => (res.orders && res.orders.length) || (res.missed && res.missed.length) ?
        dlqMessage('retried', res) : 'no dead-lettered order\'s reason contains "' + reason + '"',
      ['stuck', 'status']);
  }

  async function pauseCarrier(name, pause) {
    const q = pause ? 'Pause ' + name + '? New orders go to routing.failover until it is resumed.' : 'Resume ' + name + '?';
    if (!confirmed(q)) return;
    await post((pause ? 'pause ' : 'resume ') + name,
      'api/carriers/' + encodeURIComponent(name) + '/' + (pause ? 'pause' : 'resume'),
      (res) => (res.paused ? 'paused ' : 'resumed ') + text(res.carrier) + (res.paused ? ': new orders go to routing.failover' : ''),
      ['status']);
  }

  async function waybillAction(o, act) {
    const label = (o.order_code || o.order) + (o.waybill ? ', waybill ' + o.waybill : '');
    const q = act === 'cancel' ?
      'Cancel the waybill of order ' + label + ' with ' + text(o.carrier) + '?' :
      'Reissue the waybill of order ' + label + '? The carrier is asked for a new one.';
    if (!confirmed(q)) return;
    await post(act + ' ' + o.order, 'api/waybills/' + encodeURIComponent(o.order) + '/' + act,
      (res) => act === 'cancel' ? 'cancel: ' + text(res.outcome) + ' (order ' + text(res.order) + ')' :
        'reissue: new waybill ' + text(res.waybill) + ' (order ' + text(res.order) + ')',
      ['order', 'stuck', 'status']);
  }

  /* ---- the order page ---- */

  const RECORD = [
    ['order', 'order key'], ['order_code', 'order code'], ['state', 'state'], ['carrier', 'carrier'],
    ['shipper_code', 'shipper code'], ['waybill', 'waybill'], ['children', 'more parcels', (v) => Array.isArray(v) && v.length ? v.join(', ') : DASH],
    ['previous_waybills', 'previous waybills'], ['warehouse', 'warehouse'], ['attempts', 'attempts', integer],
    ['last_error', 'last error'], ['pinned', 'pinned', yesno], ['reissues', 'reissues', integer],
    ['status', 'parcel status'], ['status_exception', 'exception', yesno], ['status_reason', 'status reason'],
    ['status_time', 'status at', localTime], ['created_at', 'created', localTime], ['updated_at', 'updated', localTime],
    ['waybill_at', 'waybill at', localTime], ['in_dead_letter', 'in the dead letter', yesno],
  ];

  function stateClass(s) {
    return s === 'dead' || s === 'conflict' ? 'bad' : s === 'retrying' || s === 'submitting' ? 'warn' : 'ok';
  }

  function renderOrder(o) {
    const root = document.getElementById('order');
    const head = el('div', 'order-head');
    const h = el('h2', 'mono', text(o.order_code || o.order));
    h.append(badge(text(o.state), stateClass(o.state)));
    if (o.in_dead_letter) h.append(badge('dead letter', 'bad'));
    if (o.pinned) h.append(badge('pinned', 'warn', 'only its carrier may be asked again'));
    if (o.status_exception) h.append(badge('exception', 'bad'));
    const wb = [o.waybill].concat(Array.isArray(o.children) ? o.children : []).filter((w) => w);
    const sub = el('p', 'sub', (wb.length ? 'waybill ' + wb.join(' + ') : 'no waybill') + ' · ' + text(o.carrier) +
      (o.status ? ' · ' + o.status : ''));
    head.append(h, sub);

    const acts = el('div', 'acts order-acts');
    if (o.in_dead_letter) {
      acts.append(
        actionButton('Retry', () => deadAction(o.order, o.order_code, 'retry')),
        actionButton('Drop', () => deadAction(o.order, o.order_code, 'drop'), 'danger'));
    }
    if (o.waybill) {
      acts.append(
        actionButton('Cancel waybill', () => waybillAction(o, 'cancel'), 'danger'),
        actionButton('Reissue waybill', () => waybillAction(o, 'reissue')));
    }
    head.append(acts);

    const dl = el('dl');
    dl.id = 'order-record';
    for (const [name, label, fmt] of RECORD) {
      const dd = el('dd', name === 'last_error' || name === 'status_reason' ? 'wrap' : 'mono',
        (fmt || text)(o[name]));
      dd.setAttribute('data-field', 'order-' + name);
      dl.append(el('dt', '', label), dd);
    }

    const tl = el('ol');
    tl.id = 'timeline';
    const steps = (Array.isArray(o.timeline) ? o.timeline : []).map((s, i) => ({ s: s, i: i, t: parseTime(s.at) }));
    steps.sort((a, b) => (a.t - b.t) || (a.i - b.i)); /* oldest first; as sent when times tie or lack */
    for (const { s } of steps) {
      const li = el('li', 'kind-' + String(s.kind).replace(/[^a-z_]/g, ''));
      li.setAttribute('data-kind', String(s.kind));
      li.append(el('time', 'mono', localTime(s.at)), el('span', 'kind', text(s.kind)), el('span', 'text', text(s.text)));
      tl.append(li);
    }
    if (!steps.length) tl.append(el('li', 'empty', 'nothing recorded'));

    const labels = el('ul', 'labels');
    const ls = Array.isArray(o.labels) ? o.labels : [];
    for (const l of ls) {
      const li = el('li');
      const a = el('a', '', 'label ' + l.parcel + '/' + ls.length + ' (' + l.waybill + ')');
      a.href = l.url;
      a.target = '_blank';
      a.rel = 'noopener';
      li.append(a);
      labels.append(li);
    }

    const parts = [head, el('h3', '', 'Record'), dl, el('h3', '', 'Timeline'), tl];
    if (ls.length) parts.push(el('h3', '', 'Labels'), labels);
    root.replaceChildren(...parts);
    document.title = 'shipsync · ' + (o.order_code || o.order);
    applyActions();
  }

  async function pollOrder() {
    if (state.signedOut || state.route.view !== 'order') return;
    const ref = state.route.arg;
    const root = document.getElementById('order');
    let o;
    try {
      o = await api('api/orders/' + encodeURIComponent(ref));
    } catch (e) {
      if (state.route.view !== 'order' || state.route.arg !== ref) return;
      if (e instanceof ApiError && e.status === 404) {
        state.order = '';
        const p = el('p', 'missing', 'no such order: ' + ref);
        p.id = 'order-missing';
        root.replaceChildren(p);
      } else if (!root.firstChild || root.querySelector('.loading')) {
        root.replaceChildren(el('p', 'missing', 'order unavailable: ' + failure(e)));
      }
      return;
    }
    if (state.route.view !== 'order' || state.route.arg !== ref) return;
    const json = JSON.stringify(o);
    if (json === state.order && root.querySelector('#order-record')) return;
    state.order = json;
    renderOrder(o);
  }

  /* ---- search ---- */

  function renderSearch(q, rows) {
    document.getElementById('search-q').textContent = q;
    const trs = rows.map((r) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-order', String(r.order));
      const code = el('td', 'mono');
      code.append(orderLink(r.order, r.order_code || r.order));
      tr.append(code, el('td', '', text(r.carrier)), el('td', 'mono', text(r.waybill)),
        el('td', stateClass(r.state) === 'bad' ? 'bad' : '', text(r.state)), el('td', '', text(r.status)),
        el('td', '', text(r.matched)), el('td', 'mono', localTime(r.updated_at)));
      return tr;
    });
    document.querySelector('#search-results tbody').replaceChildren(...(trs.length ? trs : [emptyRow(7, 'nothing found for “' + q + '”')]));
  }

  async function find(q) {
    try {
      return await api('api/search?q=' + encodeURIComponent(q));
    } catch (e) {
      say('search: ' + failure(e), 'bad');
      return null;
    }
  }

  async function search(q) {
    q = q.trim();
    if (!q) return;
    const rows = await find(q);
    if (!rows) return;
    if (rows.length === 0) {
      say('nothing found for “' + q + '”', 'warn');
      return;
    }
    if (rows.length === 1) {
      go(orderHref(rows[0].order));
      return;
    }
    state.search = { q: q, rows: rows };
    go('#/search/' + encodeURIComponent(q));
  }

  async function showSearch(q) {
    if (state.search && state.search.q === q) {
      renderSearch(q, state.search.rows);
      return;
    }
    document.getElementById('search-q').textContent = q;
    const rows = await find(q);
    if (rows && state.route.view === 'search' && state.route.arg === q) {
      state.search = { q: q, rows: rows };
      renderSearch(q, rows);
    }
  }

  /* ---- routes ---- */

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function parseRoute() {
    let h = location.hash;
    if (h.startsWith('#')) h = h.slice(1);
    if (h.startsWith('/')) h = h.slice(1);
    const i = h.indexOf('/');
    const view = i < 0 ? h : h.slice(0, i);
    let arg = i < 0 ? '' : h.slice(i + 1);
    try { arg = decodeURIComponent(arg); } catch (e) { /* leave it as it came */ }
    if ((view === 'order' || view === 'search') && arg !== '') return { view: view, arg: arg };
    return { view: 'overview', arg: '' };
  }

  function route() {
    const r = parseRoute();
    const changed = r.view !== state.route.view || r.arg !== state.route.arg;
    state.route = r;
    for (const v of ['overview', 'order', 'search']) {
      document.getElementById('view-' + v).hidden = v !== r.view;
    }
    if (r.view === 'overview') {
      document.title = 'shipsync console';
      loops.series.run();
      loops.stuck.run();
    } else if (r.view === 'order') {
      if (changed) {
        state.order = '';
        document.getElementById('order').replaceChildren(el('p', 'loading', 'loading ' + r.arg + '…'));
      }
      loops.order.run();
    } else {
      document.title = 'shipsync · search ' + r.arg;
      showSearch(r.arg);
    }
    if (changed) window.scrollTo(0, 0);
  }

  /* ---- wiring ---- */

  /* A script's form.submit() (a test driver's, say) fires no submit event and would navigate,
   * which the CSP (form-action 'none') blocks: make it a requestSubmit, so that it works as
   * pressing Enter does. */
  HTMLFormElement.prototype.submit = function () { this.requestSubmit(); };

  const loops = {
    status: loop(POLL_MS, pollStatus),
    series: loop(SERIES_MS, pollSeries),
    stuck: loop(STUCK_MS, pollStuck),
    order: loop(ORDER_MS, pollOrder),
  };

  function wire() {
    for (const id of ['home', 'back', 'back-search']) document.getElementById(id).href = '#/';
    document.getElementById('search').addEventListener('submit', (ev) => {
      ev.preventDefault();
      search(document.getElementById('q').value);
    });
    document.getElementById('signin').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = document.getElementById('token');
      store(TOKEN_KEY, token.value.trim());
      store(OPERATOR_KEY, document.getElementById('operator').value.trim());
      token.value = '';
      signedIn();
      setConn('connecting…', false);
      for (const l of Object.values(loops)) l.run();
    });
    document.getElementById('signout').addEventListener('click', () => {
      store(TOKEN_KEY, '');
      store(OPERATOR_KEY, '');
      showWho();
      loops.status.run();
    });
    document.getElementById('retry-reason-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      retryReason();
    });
    for (const b of document.querySelectorAll('#charts [data-span]')) {
      b.addEventListener('click', () => switchSpan(b.getAttribute('data-span')));
    }
    document.getElementById('message').addEventListener('click', (ev) => { ev.currentTarget.hidden = true; });
    window.addEventListener('hashchange', route);
  }

  wire();
  showWho();
  applyActions();
  route();
  loops.status.run();
})();
