/* Keras Inspector graph viewer: one script for the HTML export and the app's Graph page.
 *
 * It shows a Graphviz SVG (given by the server, or laid out here from DOT with the vendored
 * Graphviz WebAssembly build), pans and zooms it by its viewBox (so text scales with the zoom),
 * finds layers, and reports clicks through options.onEvent:
 *   {type: "select" | "unfold" | "expand" | "collapse", id: <node id>, depth: <nesting level>, nonce}
 * Every drawn layer gets data-node-id="<node id>"; the payload's nodes map the SVG ids (n0, n1, ...)
 * to node facts, because Graphviz cannot write arbitrary attributes itself.
 */
(function (global) {
  "use strict";

  var READABLE_PX = 9;  // smallest on-screen label size of the first view
  var MAX_FIRST_SCALE = 1.5;  // a tiny graph is not blown up beyond this
  var graphvizModule = null;
  var layouts = new Map();

  function byId(id) { return document.getElementById(id); }

  function fingerprint(text) {  // FNV-1a: a cache key for a DOT text
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return "ki-svg-" + h.toString(16) + "-" + text.length;
  }

  function loadGraphviz(url) {
    if (!graphvizModule) {
      if (!url) {  // the export carries the module's text inline: import it from a blob
        var inline = byId("ki-graphviz");
        if (!inline) { return Promise.reject(new Error("no Graphviz build in this page")); }
        url = URL.createObjectURL(new Blob([inline.textContent], { type: "text/javascript" }));
      }
      graphvizModule = import(url).then(function (m) { return m.Graphviz.load(); });
    }
    return graphvizModule;
  }

  function layOut(dot, url) {
    var key = fingerprint(dot);
    if (layouts.has(key)) { return Promise.resolve(layouts.get(key)); }
    try {  // a page switch reloads the app's frame: the last layouts survive in this tab
      var kept = global.sessionStorage.getItem(key);
      if (kept) { layouts.set(key, kept); return Promise.resolve(kept); }
    } catch (e) { /* storage off or full: lay out again */ }
    return loadGraphviz(url).then(function (graphviz) {
      var svg = graphviz.dot(dot);
      layouts.set(key, svg);
      try { global.sessionStorage.setItem(key, svg); } catch (e) { /* too big to keep */ }
      return svg;
    });
  }

  function create(options) {
    options = options || {};
    var canvas = byId("ki-canvas");
    var tip = byId("ki-tip");
    var details = byId("ki-details");
    var status = byId("ki-status");
    var search = byId("ki-search");
    var svg = null, payload = null, drawn = null;
    var home = [0, 0, 1, 1], view = { x: 0, y: 0, s: 1 };
    var domOf = {}, lastQuery = null, nonce = 0, matches = [], matchAt = 0, selected = [], drag = null;

    function say(text) { if (status) { status.textContent = text; } }

    function emit(type, d) {
      nonce += 1;
      var event = { type: type, id: d.id, depth: d.depth || 0, focus: d.first || d.id, nonce: Date.now() + "-" + nonce };
      if (options.onEvent) { options.onEvent(event); }
    }

    // ------------------------------------------------------------------ view
    var frameSize = null;  // read once per resize: reading it just after a large SVG went in forces its layout
    function size() {
      if (!frameSize) { frameSize = [canvas.clientWidth || 1, canvas.clientHeight || 1]; }
      return frameSize;
    }
    function apply() {
      var wh = size();
      svg.setAttribute("viewBox", [view.x, view.y, wh[0] / view.s, wh[1] / view.s].join(" "));
    }
    function minFont() {
      var smallest = Infinity;
      Array.prototype.forEach.call(svg.querySelectorAll("[data-node-id] text"), function (t) {
        var f = parseFloat(t.getAttribute("font-size"));
        if (f > 0 && f < smallest) { smallest = f; }
      });
      return smallest === Infinity ? 10 : smallest;
    }
    function readableScale() { return READABLE_PX / minFont() * 1.001; }
    function boxOf(el) {  // an element's box in SVG user units, from the current view
      var r = el.getBoundingClientRect(), c = svg.getBoundingClientRect();
      return { x: view.x + (r.left - c.left) / view.s, y: view.y + (r.top - c.top) / view.s,
               w: r.width / view.s, h: r.height / view.s };
    }
    function fitWhole() {  // all of the graph, but a small one is not blown up
      var wh = size();
      view.s = Math.min(wh[0] / home[2], wh[1] / home[3], Math.max(readableScale(), MAX_FIRST_SCALE));
      view.x = home[0] + home[2] / 2 - wh[0] / view.s / 2;
      view.y = home[1] + home[3] / 2 - wh[1] / view.s / 2;
      apply();
    }
    function firstView() {
      // the whole graph when it is readable so; else fit to width; else readable, at the graph's start
      var wh = size(), need = readableScale();
      var whole = Math.min(wh[0] / home[2], wh[1] / home[3]);
      if (whole >= need) { fitWhole(); return; }
      var lr = payload && (payload.rankdir === "LR" || payload.rankdir === "RL");
      var across = lr ? wh[1] / home[3] : wh[0] / home[2];
      view.s = Math.max(need, Math.min(across, MAX_FIRST_SCALE));
      view.x = home[0];
      view.y = home[1];
      if (!lr && home[2] * view.s < wh[0]) { view.x = home[0] + home[2] / 2 - wh[0] / view.s / 2; }
      if (lr && home[3] * view.s < wh[1]) { view.y = home[1] + home[3] / 2 - wh[1] / view.s / 2; }
      apply();
      if (across < need) { centreOnStart(lr); }
    }
    function centreOnStart(lr) {
      var first = null, best = Infinity, toRoot = rootTransform();
      Array.prototype.forEach.call(svg.querySelectorAll("g.node[data-node-id]"), function (g) {
        var b = outlineBox(g, toRoot) || boxOf(g), at = lr ? b.x : b.y;
        if (at < best) { best = at; first = b; }
      });
      if (!first) { return; }
      var wh = size();
      if (lr) {
        view.y = clamp(first.y + first.h / 2 - wh[1] / view.s / 2, home[1], home[1] + home[3] - wh[1] / view.s);
      } else {
        view.x = clamp(first.x + first.w / 2 - wh[0] / view.s / 2, home[0], home[0] + home[2] - wh[0] / view.s);
      }
      apply();
    }
    function rootTransform() {  // Graphviz's "scale(sx sy) rotate(0) translate(tx ty)" on its top group
      var g = svg.querySelector("g.graph"), text = (g && g.getAttribute("transform")) || "";
      var sc = /scale\(([-\d.]+)[ ,]*([-\d.]*)\)/.exec(text), tr = /translate\(([-\d.]+)[ ,]+([-\d.]+)\)/.exec(text);
      var sx = sc ? parseFloat(sc[1]) : 1, sy = sc && sc[2] ? parseFloat(sc[2]) : sx;
      var tx = tr ? parseFloat(tr[1]) : 0, ty = tr ? parseFloat(tr[2]) : 0;
      return function (x, y) { return [sx * (x + tx), sy * (y + ty)]; };
    }
    function outlineBox(g, toRoot) {
      // a node's box read from its outline's coordinates: no layout is forced, unlike getBoundingClientRect,
      // which on a large graph costs as much as drawing it (NASNetMobile: 0.15 s)
      var outline = g.querySelector("path, polygon");
      var numbers = outline && (outline.getAttribute("d") || outline.getAttribute("points") || "").match(/-?[\d.]+/g);
      if (!numbers || numbers.length < 4) { return null; }
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var i = 0; i + 1 < numbers.length; i += 2) {
        var p = toRoot(parseFloat(numbers[i]), parseFloat(numbers[i + 1]));
        x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
      }
      return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    }
    function sized() {  // the app's frame has no height until Streamlit applies ours
      return new Promise(function (resolve) {
        var tries = 0;
        (function wait() {
          frameSize = null;
          if ((size()[0] > 1 && size()[1] > 1) || tries++ > 100) { resolve(); return; }
          setTimeout(wait, 30);
        })();
      });
    }
    function clamp(v, lo, hi) { return hi < lo ? lo : Math.max(lo, Math.min(hi, v)); }
    function zoomAt(factor, px, py) {
      var ux = view.x + px / view.s, uy = view.y + py / view.s;
      view.s = clamp(view.s * factor, 0.005, 40);
      view.x = ux - px / view.s;
      view.y = uy - py / view.s;
      apply();
    }
    function zoomCentre(factor) { var wh = size(); zoomAt(factor, wh[0] / 2, wh[1] / 2); }
    function centreOn(el) {
      var b = boxOf(el), wh = size();
      view.s = Math.max(view.s, readableScale());
      view.x = b.x + b.w / 2 - wh[0] / view.s / 2;
      view.y = b.y + b.h / 2 - wh[1] / view.s / 2;
      apply();
    }

    // ------------------------------------------------------------------ drawing
    function install(text) {
      var holder = document.createElement("div");
      holder.innerHTML = text.slice(Math.max(0, text.indexOf("<svg")));
      var fresh = holder.querySelector("svg");
      if (svg && svg.parentNode) { svg.parentNode.removeChild(svg); }
      canvas.appendChild(fresh);
      adopt(fresh);
    }
    function adopt(element) {
      svg = element;
      var base = svg.viewBox && svg.viewBox.baseVal;
      home = base && base.width ? [base.x, base.y, base.width, base.height]
        : [0, 0, parseFloat(svg.getAttribute("width")) || 1000, parseFloat(svg.getAttribute("height")) || 1000];
      svg.removeAttribute("width");
      svg.removeAttribute("height");
      svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
      var nodes = payload.nodes || {}, clusters = payload.clusters || {};
      domOf = {};
      Object.keys(nodes).forEach(function (dom) { domOf[nodes[dom].id] = dom; });
      Object.keys(payload.owners || {}).forEach(function (id) { domOf[id] = payload.owners[id]; });
      Array.prototype.forEach.call(svg.querySelectorAll("g.node"), function (g) {
        var d = nodes[g.id];
        if (!d) { return; }
        g.setAttribute("data-node-id", d.id);
        g.classList.add("ki-" + (d.kind || "layer"));
        g.setAttribute("tabindex", "-1");
      });
      Array.prototype.forEach.call(svg.querySelectorAll("g.cluster"), function (g) {
        var d = clusters[g.id];
        if (!d) { return; }
        g.setAttribute("data-model-id", d.id);
        Array.prototype.forEach.call(g.querySelectorAll("text"), function (t) { t.classList.add("ki-cluster-title"); });
      });
    }

    function factsOf(target) {
      var g = target.closest ? target.closest("g.node[data-node-id]") : null;
      if (g) { return { g: g, d: payload.nodes[g.id] }; }
      var t = target.closest ? target.closest("text.ki-cluster-title") : null;
      if (t) {
        var c = t.closest("g.cluster");
        return { g: c, d: payload.clusters[c.id], cluster: true };
      }
      return null;
    }

    function table(d) {
      var frag = document.createDocumentFragment();
      var h = document.createElement("h2");
      h.textContent = d.name;
      frag.appendChild(h);
      var t = document.createElement("table");
      t.className = "ki";
      (d.rows || [["class", d["class"]]]).forEach(function (row) {
        var tr = t.insertRow();
        tr.insertCell().textContent = row[0];
        tr.insertCell().textContent = row[1];
      });
      frag.appendChild(t);
      if (d.hint) {
        var p = document.createElement("p");
        p.className = "ki-hint";
        p.textContent = d.hint;
        frag.appendChild(p);
      }
      return frag;
    }
    function showIn(el, d) { if (el) { el.textContent = ""; el.appendChild(table(d)); } }

    function mark(ids, className) {
      Array.prototype.forEach.call(svg.querySelectorAll("g." + className), function (g) { g.classList.remove(className); });
      var found = [];
      ids.forEach(function (id) {
        var dom = domOf[id] || id;
        var g = svg.querySelector('g[id="' + String(dom).replace(/["\\]/g, "\\$&") + '"]');
        if (g && found.indexOf(g) < 0) { g.classList.add(className); found.push(g); }
      });
      return found;
    }

    function find(query, scroll) {
      var q = (query || "").trim().toLowerCase();
      var ids = [];
      if (q) {
        Object.keys(payload.nodes || {}).forEach(function (dom) {
          var d = payload.nodes[dom];
          if ((d.name + "\n" + d["class"] + "\n" + d.id).toLowerCase().indexOf(q) >= 0) { ids.push(d.id); }
        });
        Object.keys(payload.owners || {}).forEach(function (id) {
          if (id.toLowerCase().indexOf(q) >= 0) { ids.push(id); }
        });
      }
      matches = mark(ids, "ki-match");
      matchAt = 0;
      if (q) { say(matches.length ? matches.length + " found" : "nothing found"); } else { say(""); }
      if (scroll && matches.length) { centreOn(matches[0]); }
    }

    // ------------------------------------------------------------------ input
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = canvas.getBoundingClientRect();
      zoomAt(Math.exp(-Math.max(-1, Math.min(1, e.deltaY * 0.0015))), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    canvas.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) { return; }
      drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false, active: true };
      canvas.classList.add("dragging");
    });
    global.addEventListener("pointermove", function (e) {
      if (!drag || !drag.active || !svg) { return; }
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; }
      view.x = drag.vx - dx / view.s;
      view.y = drag.vy - dy / view.s;
      apply();
    });
    global.addEventListener("pointerup", function () {
      canvas.classList.remove("dragging");
      if (drag) { drag.active = false; }  // kept until the next press, so a drag is not a click
    });
    canvas.addEventListener("click", function (e) {
      if (!svg || (drag && drag.moved)) { return; }
      var hit = factsOf(e.target);
      if (!hit || !hit.d) { return; }
      showIn(details, hit.d);
      if (hit.cluster) { emit("collapse", hit.d); return; }
      selected.forEach(function (g) { g.classList.remove("ki-selected"); });
      selected = [hit.g];
      hit.g.classList.add("ki-selected");
      emit(hit.d.kind === "group" ? "unfold" : hit.d.kind === "model" ? "expand" : "select", hit.d);
    });
    canvas.addEventListener("pointerover", function (e) {
      var hit = svg && factsOf(e.target);
      if (!tip || !hit || !hit.d) { return; }
      showIn(tip, hit.d);
      tip.style.display = "block";
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!tip || tip.style.display !== "block") { return; }
      var x = e.clientX + 14, y = e.clientY + 14;
      if (x + tip.offsetWidth > global.innerWidth) { x = Math.max(0, e.clientX - tip.offsetWidth - 14); }
      if (y + tip.offsetHeight > global.innerHeight) { y = Math.max(0, global.innerHeight - tip.offsetHeight - 4); }
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    });
    canvas.addEventListener("pointerout", function (e) {
      if (tip && (!e.relatedTarget || !factsOf(e.relatedTarget))) { tip.style.display = "none"; }
    });
    function button(id, action) {
      var b = byId(id);
      if (b) { b.addEventListener("click", function () { if (svg) { action(); } }); }
    }
    button("ki-fit", fitWhole);
    button("ki-zoom-in", function () { zoomCentre(1.25); });
    button("ki-zoom-out", function () { zoomCentre(0.8); });
    button("ki-start", firstView);
    if (search) {
      search.addEventListener("input", function () { if (svg) { find(search.value, true); } });
      search.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && matches.length) {
          matchAt = (matchAt + (e.shiftKey ? matches.length - 1 : 1)) % matches.length;
          centreOn(matches[matchAt]);
          say((matchAt + 1) + " of " + matches.length);
        }
      });
    }
    document.addEventListener("keydown", function (e) {
      if (!svg || e.ctrlKey || e.metaKey || e.altKey) { return; }
      var tag = e.target && e.target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA") { return; }
      var step = 80 / view.s;
      var keys = {
        "+": function () { zoomCentre(1.25); }, "=": function () { zoomCentre(1.25); },
        "-": function () { zoomCentre(0.8); }, "_": function () { zoomCentre(0.8); },
        "0": fitWhole, "1": firstView,
        "ArrowLeft": function () { view.x -= step; apply(); }, "ArrowRight": function () { view.x += step; apply(); },
        "ArrowUp": function () { view.y -= step; apply(); }, "ArrowDown": function () { view.y += step; apply(); },
      };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
    global.addEventListener("resize", function () { frameSize = null; if (svg) { apply(); } });

    // ------------------------------------------------------------------ public
    function show(next, marks) {
      marks = marks || {};
      var same = payload && drawn && next.key === payload.key;
      payload = next;
      var ready;
      if (same) {
        ready = Promise.resolve(false);
      } else if (typeof next.svg === "string") {
        // wait for the frame's size before the SVG is in the page: read with a large SVG inside, the size
        // forces the SVG's whole layout (NASNetMobile: 0.3 s) before the first view is even chosen
        ready = sized().then(function () { install(next.svg); return true; });
      } else if (next.dot) {
        say("laying out…");
        var started = performance.now();
        ready = layOut(next.dot, options.graphvizUrl).then(function (text) {
          return sized().then(function () {
            install(text);
            say("");
            canvas.setAttribute("data-layout-ms", String(Math.round(performance.now() - started)));
            return true;
          });
        });
      } else {
        adopt(canvas.querySelector("svg"));
        ready = sized().then(function () { return true; });
      }
      return ready.then(function (fresh) {
        drawn = true;
        var t0 = performance.now();
        canvas.setAttribute("data-layout", next.svg || !next.dot ? "server" : "browser");
        if (fresh) { firstView(); }
        selected = mark(marks.highlight || [], "ki-selected");
        var query = marks.search || "";
        var asked = marks.search !== undefined && query !== lastQuery;
        if (asked) { lastQuery = query; }
        if (search && asked) { search.value = query; }
        find(search ? search.value : query, asked && !!query);
        var focus = marks.focus && domOf[marks.focus] && byId(domOf[marks.focus]);
        if (fresh && focus) { centreOn(focus); }
        canvas.setAttribute("data-ready", next.key || "1");
        // two frames later the browser has laid out and painted it: what bench/app_open.py waits for
        requestAnimationFrame(function () {
          requestAnimationFrame(function () { canvas.setAttribute("data-painted", next.key || "1"); });
        });
        performance.measure("ki-view", { start: t0 });
      }, function (error) {
        say("layout failed: " + error.message);
        canvas.setAttribute("data-error", error.message);
      });
    }
    return { show: show, fitWhole: fitWhole, firstView: firstView,
             scale: function () { return view.s; }, readableScale: readableScale };
  }

  global.KerasInspectorViewer = { create: create };
})(window);
