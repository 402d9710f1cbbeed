/*
 * shipsync status page: polls api/status every 2 s and renders it. Every rendered value sits in
 * an element with a data-field attribute and is formatted as documented in doc.go. Values are
 * set with textContent only, never parsed as markup.
 */
(function () {
  'use strict';

  const POLL_MS = 2000;
  const STALE_MS = 3 * POLL_MS;
  const DASH = '–';

  let lastOK = 0;

  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  /* One decimal, halves up; doc.go and the browser test rely on exactly this. */
  function fixed1(x) { return isNum(x) ? (Math.round(x * 10) / 10).toFixed(1) : DASH; }
  function percent1(rate) { return isNum(rate) ? fixed1(rate * 100) : DASH; }
  function millis(sec) { return isNum(sec) ? String(Math.round(sec * 1000)) : DASH; }
  function integer(n) { return isNum(n) ? String(Math.round(n)) : DASH; }
  function text(s) { return (typeof s === 'string' && s !== '') ? s : DASH; }

  /* Local time as "2006-01-02 15:04:05". Go sends up to 9 fractional digits; Date wants 3. */
  function localTime(iso) {
    if (typeof iso !== 'string' || iso === '') return DASH;
    const d = new Date(iso.replace(/(\.\d{3})\d+/, '$1'));
    if (isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return DASH;
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function setField(name, value) {
    const el = document.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  }

  function cell(field, value, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    if (field) td.setAttribute('data-field', field);
    td.textContent = value;
    return td;
  }

  function level(el, cls) {
    el.classList.remove('warn', 'bad');
    if (cls) el.classList.add(cls);
  }

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

  function emptyRow(cols, msg) {
    const tr = document.createElement('tr');
    const td = cell('', msg, 'empty');
    td.colSpan = cols;
    tr.append(td);
    return tr;
  }

  function renderCarriers(list) {
    const rows = (Array.isArray(list) ? list : []).map((c) => {
      const f = 'carrier-' + c.name + '-';
      const tr = document.createElement('tr');
      const rateCls = !isNum(c.success_rate) || c.requests === 0 ? 'num' :
        c.success_rate < 0.9 ? 'num bad' : c.success_rate < 0.99 ? 'num warn' : 'num';
      tr.append(
        cell(f + 'name', text(c.name)),
        cell(f + 'requests', integer(c.requests), 'num'),
        cell(f + 'success', percent1(c.success_rate), rateCls),
        cell(f + 'p50', millis(c.p50_seconds), 'num'),
        cell(f + 'p99', millis(c.p99_seconds), 'num'));
      return tr;
    });
    document.getElementById('carriers').replaceChildren(...(rows.length ? rows : [emptyRow(5, 'no carrier requests yet')]));
  }

  function renderLatest(list) {
    const rows = (Array.isArray(list) ? list : []).map((o, i) => {
      const f = 'latest-' + i + '-';
      const tr = document.createElement('tr');
      const status = document.createElement('td');
      const st = document.createElement('span');
      st.setAttribute('data-field', f + 'status');
      st.textContent = text(o.status);
      status.append(st);
      if (o.exception) {
        const b = document.createElement('span');
        b.className = 'badge';
        b.setAttribute('data-field', f + 'exception');
        b.textContent = 'exception';
        status.append(b);
      }
      tr.append(
        cell(f + 'order_code', text(o.order_code), 'mono'),
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
    document.getElementById('labels-print').hidden = !(l.unprinted > 0);
    const rows = (Array.isArray(l.batches) ? l.batches : []).map((b, i) => {
      const f = 'label-batch-' + i + '-';
      const tr = document.createElement('tr');
      const open = document.createElement('td');
      const a = document.createElement('a');
      a.href = 'labels/' + encodeURIComponent(b.id);
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = 'print';
      open.append(a);
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
    const el = document.getElementById('conn');
    el.textContent = msg;
    el.className = 'conn ' + (ok ? 'live' : 'down');
    document.querySelector('main').classList.toggle('stale', !ok && Date.now() - lastOK > STALE_MS);
  }

  async function poll() {
    try {
      const res = await fetch('api/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!res.ok) {
        setConn('unavailable (' + res.status + ')', false);
        return;
      }
      const s = await res.json();
      renderTiles(s);
      renderCarriers(s.carriers);
      renderLatest(s.latest);
      renderLabels(s.labels);
      lastOK = Date.now();
      setConn('live', true);
    } catch (e) {
      setConn('offline', false);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
