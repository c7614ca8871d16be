/* Dropcast share pages: optional enhancements. Every page works without this file. */
(function () {
  'use strict';

  function formatBytes(n) {
    if (!isFinite(n) || n < 0) return '';
    var units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  // 1. Click an image to toggle between "fit the window" and 1:1 size.
  function setupZoom(img) {
    var root = img.closest('[data-zoom-root]') || img.parentElement;
    var link = img.closest('a');
    var target = link || img;

    function fits() {
      var w = Number(img.getAttribute('width')) || img.naturalWidth;
      var h = Number(img.getAttribute('height')) || img.naturalHeight;
      return w <= img.clientWidth + 1 && h <= img.clientHeight + 1;
    }
    function update() {
      if (!root.classList.contains('zoomed')) root.classList.toggle('can-zoom', !fits());
      target.title = root.classList.contains('zoomed') ? 'Fit to window'
        : root.classList.contains('can-zoom') ? 'View at actual size' : '';
    }
    function setZoom(on, fx, fy) {
      root.classList.toggle('zoomed', on);
      update();
      if (on) {
        root.scrollLeft = fx * root.scrollWidth - root.clientWidth / 2;
        root.scrollTop = fy * root.scrollHeight - root.clientHeight / 2;
      }
    }

    target.addEventListener('click', function (ev) {
      // Let modified clicks (new tab, save) behave like a plain link.
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      if (root.classList.contains('zoomed')) { setZoom(false); return; }
      if (fits()) return;
      var r = img.getBoundingClientRect();
      var keyboard = ev.detail === 0 || !r.width || !r.height;
      setZoom(true,
        keyboard ? 0.5 : (ev.clientX - r.left) / r.width,
        keyboard ? 0.5 : (ev.clientY - r.top) / r.height);
    });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && root.classList.contains('zoomed')) setZoom(false);
    });
    window.addEventListener('resize', update);
    if (img.complete) update(); else img.addEventListener('load', update);
  }
  document.querySelectorAll('img[data-zoomable]').forEach(setupZoom);

  // 2. Upload in progress: poll the status endpoint, reload once complete.
  var status = document.querySelector('[data-status-url]');
  if (status) {
    var url = status.getAttribute('data-status-url');
    var bar = status.querySelector('progress');
    var text = status.querySelector('[data-progress-text]');
    var delay = 1000;

    var show = function (received, size) {
      if (bar) {
        if (size > 0) { bar.max = size; bar.value = Math.min(received, size); } else bar.removeAttribute('value');
      }
      if (text) {
        text.textContent = size > 0
          ? formatBytes(received) + ' of ' + formatBytes(size) + ' · ' + Math.floor(Math.min(received, size) * 100 / size) + '%'
          : formatBytes(received) + ' received';
      }
    };
    var stall = function () {
      status.classList.add('is-stalled');
      var title = status.querySelector('[data-status-title]');
      if (title) title.textContent = 'Upload stalled';
      var progress = status.querySelector('[data-progress]');
      if (progress) progress.hidden = true;
      var msg = status.querySelector('[data-stalled]');
      if (msg) msg.hidden = false;
    };
    var schedule = function () {
      window.setTimeout(poll, document.hidden ? Math.max(delay, 5000) : delay);
    };
    var poll = function () {
      fetch(url, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (res) {
          // The drop vanished (deleted, expired): the page itself will say so.
          if (res.status === 404 || res.status === 410) { window.location.reload(); return null; }
          if (!res.ok) throw new Error('HTTP ' + res.status);
          return res.json();
        })
        .then(function (s) {
          if (!s) return;
          if (s.status === 'complete') { window.location.reload(); return; }
          if (s.status === 'stalled') { stall(); return; }
          show(Number(s.received) || 0, s.size == null ? NaN : Number(s.size));
          delay = 1000;
          schedule();
        })
        .catch(function () {
          delay = Math.min(delay * 2, 15000);
          schedule();
        });
    };

    var initialSize = status.getAttribute('data-size');
    show(Number(status.getAttribute('data-received')) || 0, initialSize === null ? NaN : Number(initialSize));
    schedule();
  }

  // 3. Show <time datetime> values in the viewer's own time zone.
  var dateFormat = null;
  try {
    dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  } catch (e) { /* old browser: fall back to toLocaleString */ }
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (isNaN(d.getTime())) return;
    if (!el.title) el.title = el.textContent.trim();
    el.textContent = dateFormat ? dateFormat.format(d) : d.toLocaleString();
  });
})();
