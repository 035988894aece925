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
  var AROUND_FIRST_VIEW = 0.5;  // drawn with the first view: this much of the frame on each side of it
  var LATER_SLICE = 400;  // the rest of the drawing goes in this many pieces per frame
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
      setTimeout(function () {  // kept for a page switch, after this drawing is shown
        try { global.sessionStorage.setItem(key, svg); } catch (e) { /* too big to keep */ }
      }, 0);
      return svg;
    });
  }

  // A layout engine fresh from its download runs WebAssembly compiled for a quick start, several times slower
  // than the optimised code the browser compiles for a function once it has run a while: in the app's frame,
  // NASNetMobile's first layout took 0.32-0.39 s, and 0.10-0.15 s after warmUp, which lays out a made-up graph
  // like ours (300 boxes, skip edges, a nested box) four times while the page is idle (0.05-0.2 s each).
  function warmUpDot(size) {
    var lines = ['digraph w { graph [rankdir=TB, splines=true, newrank=true, fontname="Helvetica"];',
      ' node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.10,0.04"];',
      ' subgraph cluster_0 { label=<<B>block</B>>;'];
    for (var i = 0; i < size; i++) {
      lines.push(" w" + i + ' [label=<<B>layer_' + i + '</B><BR/><I>Conv2D</I><BR/>(None, 14, 14, ' + (i * 7 % 480) +
                 ')<BR/>' + (i * 131) + ' params>, fillcolor="#dbeafe"];');
      if (i === size >> 1) { lines.push(" }"); }
    }
    for (var j = 1; j < size; j++) {
      lines.push(" w" + (j - 1) + " -> w" + j + ";");
      if (j % 4 === 0) { lines.push(" w" + (j - 4) + " -> w" + j + ";"); }
      if (j % 9 === 0 && j + 3 < size) { lines.push(" w" + j + " -> w" + (j + 3) + ";"); }
    }
    return lines.join("\n") + "\n}";
  }

  function warmUp(url) {
    var idle = global.requestIdleCallback || function (f) { return setTimeout(f, 50); };
    return loadGraphviz(url).then(function (graphviz) {
      var text = warmUpDot(300);
      return new Promise(function (done) {
        (function round(left) {  // one layout per idle moment: a drawing that comes in meanwhile goes first
          if (left <= 0) { done(); return; }
          idle(function () { graphviz.dot(text); round(left - 1); });
        })(4);
      });
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
    var domOf = {}, pieces = {}, marked = {}, wanted = {}, lastQuery = null, nonce = 0, matches = [], matchAt = 0, selected = [], drag = null;

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
    // what the views need of a drawing, read from its coordinates and attributes, never from a layout (which
    // on a large graph costs as much as drawing it): the boxes of its layers and model boxes by SVG id, and its
    // smallest label size; computed once per drawing, from the SVG's text or from the page (the HTML export)
    var facts = null;
    function factsOfPage() {
      var boxes = {}, smallest = Infinity, toRoot = rootTransform();
      Array.prototype.forEach.call(svg.querySelectorAll("g.node, g.cluster"), function (g) {
        boxes[g.id] = outlineBox(g, toRoot);
      });
      Array.prototype.forEach.call(svg.querySelectorAll("[data-node-id] text"), function (t) {
        var f = parseFloat(t.getAttribute("font-size"));
        if (f > 0 && f < smallest) { smallest = f; }
      });
      return { boxes: boxes, smallest: smallest === Infinity ? 10 : smallest };
    }
    function drawingFacts() { return facts || (facts = factsOfPage()); }
    function minFont() { return drawingFacts().smallest; }
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
      var first = null, best = Infinity, boxes = drawingFacts().boxes, nodes = payload.nodes || {};
      Object.keys(boxes).forEach(function (dom) {
        var b = boxes[dom];
        if (!b || !nodes[dom]) { return; }
        var at = lr ? b.x : b.y;
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
    function pointsBox(text, toRoot) {  // the box of the points of a path's "d" or a polygon's "points"
      if (!text) { return null; }
      // read digit by digit: a regular expression's match per number (a large graph has 60,000) costs more
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, n = 0, x = 0, i = 0, len = text.length;
      while (i < len) {
        var c = text.charCodeAt(i);
        if (c !== 45 && c !== 46 && (c < 48 || c > 57)) { i += 1; continue; }  // not "-", "." or a digit
        var sign = 1, v = 0, f = 1;
        if (c === 45) { sign = -1; i += 1; }
        while (i < len && (c = text.charCodeAt(i)) >= 48 && c <= 57) { v = v * 10 + c - 48; i += 1; }
        if (c === 46) {
          i += 1;
          while (i < len && (c = text.charCodeAt(i)) >= 48 && c <= 57) { f /= 10; v += (c - 48) * f; i += 1; }
        }
        v *= sign;
        if (n % 2 === 0) { x = v; } else {  // x, y, x, y, ...
          if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (v < y0) { y0 = v; } if (v > y1) { y1 = v; }
        }
        n += 1;
      }
      if (n < 4) { return null; }
      var a = toRoot(x0, y0), b = toRoot(x1, y1);  // a scale and a shift: the corners stay corners
      return { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]), w: Math.abs(b[0] - a[0]), h: Math.abs(b[1] - a[1]) };
    }
    function outlineBox(g, toRoot) {  // a node's box, from its outline (the first path or polygon)
      var outline = g.querySelector("path, polygon");
      return outline ? pointsBox(outline.getAttribute("d") || outline.getAttribute("points"), toRoot) : null;
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
    function centreOnBox(b) {
      var wh = size();
      view.s = Math.max(view.s, readableScale());
      view.x = b.x + b.w / 2 - wh[0] / view.s / 2;
      view.y = b.y + b.h / 2 - wh[1] / view.s / 2;
      apply();
    }
    function centreOn(el) { centreOnBox(boxOfDom(el.id) || boxOf(el)); }

    // ------------------------------------------------------------------ drawing
    // A large drawing goes in by parts: the pieces of Graphviz's top group (each node, edge and model box is
    // one) that the first view and a margin around it reach are parsed and put in the page first, the others
    // wait as text behind an empty comment that keeps their place, and go in a slice per frame once the first
    // view is painted (drawLater).  The browser parses, styles, lays out and paints only what is seen first
    // (NASNetMobile: 116 of 1,701 pieces).  Hiding the rest with display="none" would not do: Chromium still
    // lays out hidden SVG text.
    function split(text) {
      // the SVG's text as its head (to the top group's opening tag), the top group's pieces, and its tail;
      // null when it is not shaped so (then it goes in whole)
      var at = text.search(/<g id="[^"]*" class="graph"/);
      if (at < 0) { return null; }
      var open = text.indexOf(">", at) + 1, found = [], i = open;
      for (;;) {
        while (i < text.length && text.charCodeAt(i) <= 32) { i++; }
        if (i >= text.length) { return null; }
        if (text.startsWith("</g>", i)) { break; }
        var end;
        if (text.startsWith("<!--", i)) {  // Graphviz's comments (the browser layout's SVG): not drawn, dropped
          end = text.indexOf("-->", i);
          if (end < 0) { return null; }
          i = end + 3;
          continue;
        }
        if (text.startsWith("<g", i)) {
          end = groupEnd(text, i);
        } else {
          var close = text.indexOf(">", i), name = /^<([\w:-]+)/.exec(text.slice(i, i + 40));
          if (close < 0 || !name) { return null; }
          if (text.charAt(close - 1) === "/") {
            end = close + 1;
          } else {
            end = text.indexOf("</" + name[1] + ">", close);
            if (end < 0) { return null; }
            end += name[1].length + 3;
          }
        }
        if (end <= i) { return null; }
        found.push(text.slice(i, end));
        i = end;
      }
      return { head: text.slice(0, open), pieces: found, tail: text.slice(i) };
    }
    function groupEnd(text, i) {  // just after the </g> that closes the <g> at i; -1 when there is none
      var depth = 1, k = i + 2;
      while (depth > 0) {
        var o = text.indexOf("<g", k), c = text.indexOf("</g>", k);
        if (c < 0) { return -1; }
        if (o >= 0 && o < c) { depth += 1; k = o + 2; } else { depth -= 1; k = c + 4; }
      }
      return k;
    }
    function attribute(text, name, from) {  // an attribute's value in the tag at ``from`` (default 0)
      from = from || 0;
      var end = text.indexOf(">", from), key = " " + name + '="', at = text.indexOf(key, from);
      if (at < 0 || at > end) { return null; }
      at += key.length;
      return text.slice(at, text.indexOf('"', at));
    }
    function pieceBox(text, toRoot) {  // a piece's box from its first outline, or from a lone text's anchor
      if (text.startsWith("<text")) {
        var x = parseFloat(attribute(text, "x")), y = parseFloat(attribute(text, "y"));
        if (isNaN(x) || isNaN(y)) { return null; }
        var p = toRoot(x, y);
        return { x: p[0], y: p[1], w: 0, h: 0 };
      }
      var path = text.indexOf("<path "), polygon = text.indexOf("<polygon ");
      var at = path < 0 ? polygon : polygon < 0 ? path : Math.min(path, polygon);
      return at < 0 ? null : pointsBox(attribute(text, "d", at) || attribute(text, "points", at), toRoot);
    }
    function parsePieces(texts) {  // SVG elements from their text (an SVG parent gives them its namespace)
      var holder = document.createElement("div");
      holder.innerHTML = "<svg>" + texts.join("") + "</svg>";
      return Array.prototype.slice.call(holder.firstChild.children);
    }
    function install(text) {
      // the head and tail now; the pieces wait as text, with their boxes; the drawing's facts from their text
      text = text.slice(Math.max(0, text.indexOf("<svg")));
      var parts = split(text), holder = document.createElement("div");
      holder.innerHTML = parts ? parts.head + parts.tail : text;
      var fresh = holder.querySelector("svg");
      if (svg && svg.parentNode) { svg.parentNode.removeChild(svg); }
      adopt(fresh);
      if (!parts) { return null; }
      var toRoot = rootTransform(), nodes = payload.nodes || {}, boxes = {}, smallest = Infinity, waiting = [];
      parts.pieces.forEach(function (piece) {
        var box = pieceBox(piece, toRoot);
        var id = piece.startsWith("<g") ? attribute(piece, "id") : null;
        if (id !== null && (nodes[id] || (payload.clusters || {})[id])) { boxes[id] = box; }
        for (var at = id !== null && nodes[id] ? piece.indexOf('font-size="') : -1; at >= 0;
             at = piece.indexOf('font-size="', at + 11)) {
          var f = parseFloat(piece.slice(at + 11, at + 20));
          if (f > 0 && f < smallest) { smallest = f; }
        }
        waiting.push({ text: piece, box: box, place: null });
      });
      facts = { boxes: boxes, smallest: smallest === Infinity ? 10 : smallest };
      return waiting;
    }
    function element(dom) {  // a node or model box by SVG id, once it is in the page
      return pieces[dom] || null;
    }
    function parsed(batch) {  // waiting pieces as elements (null for one that does not parse)
      var elements = parsePieces(batch.map(function (w) { return w.text; }));
      return batch.map(function (w, i) {
        // split gives one element per piece; should one not parse so, it is parsed alone
        var el = elements.length === batch.length ? elements[i] : parsePieces([w.text])[0] || null;
        if (el) { adoptPiece(el); }
        return el;
      });
    }
    function putIn(batch) {  // waiting pieces into their places: each before the comment holding its run's place
      parsed(batch).forEach(function (el, i) {
        if (el) { batch[i].place.parentNode.insertBefore(el, batch[i].place); }
      });
    }
    function firstPieces(waiting) {  // put in those the first view (and a margin around it) reaches; the others wait
      var wh = size(), w = wh[0] / view.s, h = wh[1] / view.s;
      var x0 = view.x - w * AROUND_FIRST_VIEW, x1 = view.x + w * (1 + AROUND_FIRST_VIEW);
      var y0 = view.y - h * AROUND_FIRST_VIEW, y1 = view.y + h * (1 + AROUND_FIRST_VIEW);
      var now = [], later = [], order = [], run = null;
      waiting.forEach(function (w) {
        var b = w.box;
        if (b && (b.x > x1 || b.x + b.w < x0 || b.y > y1 || b.y + b.h < y0)) {
          if (!run) { run = document.createComment(""); order.push(run); }  // one place for a run of waiting pieces
          w.place = run;
          later.push(w);
        } else {
          run = null;
          now.push(w);
          order.push(w);
        }
      });
      var elements = parsed(now), at = 0, pieces = document.createDocumentFragment();
      order.forEach(function (item) {
        var el = item.nodeType ? item : elements[at++];
        if (el) { pieces.appendChild(el); }
      });
      svg.querySelector("g.graph").appendChild(pieces);
      return later;
    }
    function adopt(element) {
      svg = element;
      facts = null;
      var base = svg.viewBox && svg.viewBox.baseVal;
      home = base && base.width ? [base.x, base.y, base.width, base.height]
        : [0, 0, parseFloat(svg.getAttribute("width")) || 1000, parseFloat(svg.getAttribute("height")) || 1000];
      svg.removeAttribute("width");
      svg.removeAttribute("height");
      svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
      var nodes = payload.nodes || {};
      domOf = {};
      pieces = {};
      marked = {};
      wanted = {};
      Object.keys(nodes).forEach(function (dom) { domOf[nodes[dom].id] = dom; });
      Object.keys(payload.owners || {}).forEach(function (id) { domOf[id] = payload.owners[id]; });
      Array.prototype.forEach.call(svg.querySelectorAll("g.node, g.cluster"), adoptPiece);
    }
    function adoptPiece(g) {  // the attributes Graphviz cannot write: data-node-id on layers, data-model-id on model boxes
      var d;
      if (g.tagName !== "g") { return; }
      if (g.classList.contains("node") && (d = (payload.nodes || {})[g.id])) {
        pieces[g.id] = g;
        g.setAttribute("data-node-id", d.id);
        g.classList.add("ki-" + (d.kind || "layer"));
        g.setAttribute("tabindex", "-1");
      } else if (g.classList.contains("cluster") && (d = (payload.clusters || {})[g.id])) {
        pieces[g.id] = g;
        g.setAttribute("data-model-id", d.id);
        Array.prototype.forEach.call(g.querySelectorAll("text"), function (t) { t.classList.add("ki-cluster-title"); });
      }
      Object.keys(wanted).forEach(function (name) {
        if (wanted[name][g.id]) { g.classList.add(name); marked[name].push(g); }
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
      // a piece that is not in the page yet gets the class when it goes in (adoptPiece)
      var before = Array.prototype.slice.call(svg.querySelectorAll("g." + className)).concat(marked[className] || []);
      before.forEach(function (g) { g.classList.remove(className); });
      var found = [], doms = {};
      ids.forEach(function (id) {
        var dom = domOf[id] || id, g = element(dom);
        doms[dom] = true;
        if (g && found.indexOf(g) < 0) { g.classList.add(className); found.push(g); }
      });
      marked[className] = found;
      wanted[className] = doms;
      return found;
    }
    function boxOfDom(dom) {
      var b = drawingFacts().boxes[dom], g = element(dom);
      return b || (g ? outlineBox(g, rootTransform()) || boxOf(g) : null);
    }
    function centreOnFirst(ids) {
      for (var i = 0; i < ids.length; i++) {
        var b = boxOfDom(domOf[ids[i]] || ids[i]);
        if (b) { centreOnBox(b); return; }
      }
    }
    function told(ids, q) {
      var shown = {};
      ids.forEach(function (id) { var dom = domOf[id] || id; if (boxOfDom(dom) || element(dom)) { shown[dom] = true; } });
      var n = Object.keys(shown).length;
      if (q) { say(n ? n + " found" : "nothing found"); } else { say(""); }
    }

    function find(query, scroll) {
      var q = (query || "").trim().toLowerCase(), ids = matching(q);
      matches = mark(ids, "ki-match");
      matchAt = 0;
      told(ids, q);
      if (scroll) { centreOnFirst(ids); }
    }
    function matching(q) {
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
      return ids;
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

    var drawing = null;  // the key of the drawing in the page: a newer one stops drawLater of an older one
    function drawLater(later, key) {
      // the pieces the first view left waiting, a slice per frame so that a wheel or a click is not held up
      // by the whole graph's layout; data-complete once all of them are in
      var at = 0;
      (function slice() {
        if (drawing !== key) { return; }
        putIn(later.slice(at, at + LATER_SLICE));
        at += LATER_SLICE;
        if (at < later.length) { requestAnimationFrame(slice); return; }
        later.forEach(function (w) { if (w.place.parentNode) { w.place.parentNode.removeChild(w.place); } });
        requestAnimationFrame(function () {
          if (drawing === key) { canvas.setAttribute("data-complete", key); }
        });
      })();
    }

    // ------------------------------------------------------------------ public
    function show(next, marks) {
      marks = marks || {};
      var same = payload && drawn && next.key === payload.key;
      payload = next;
      var ready, waiting = null;
      if (same) {
        ready = Promise.resolve(false);
      } else if (typeof next.svg === "string") {
        // wait for the frame's size before the SVG is in the page: read with a large SVG inside, the size
        // forces the SVG's whole layout (NASNetMobile: 0.3 s) before the first view is even chosen
        ready = sized().then(function () { waiting = install(next.svg); return true; });
      } else if (next.dot) {
        say("laying out…");
        var started = performance.now();
        ready = layOut(next.dot, options.graphvizUrl).then(function (text) {
          return sized().then(function () {
            waiting = install(text);
            say("");
            canvas.setAttribute("data-layout-ms", String(Math.round(performance.now() - started)));
            return true;
          });
        });
      } else {
        adopt(canvas.querySelector("svg"));
        waiting = null;
        ready = sized().then(function () { return true; });
      }
      return ready.then(function (fresh) {
        drawn = true;
        var t0 = performance.now();
        canvas.setAttribute("data-layout", next.svg || !next.dot ? "server" : "browser");
        // the view first (a search asked for, then the focus, move it), from the drawing's facts; then the
        // pieces it reaches go in, and the marks on them
        if (fresh) { firstView(); }
        var query = marks.search || "";
        var asked = marks.search !== undefined && query !== lastQuery;
        if (asked) { lastQuery = query; }
        if (search && asked) { search.value = query; }
        var q = (search ? search.value : query).trim().toLowerCase(), ids = matching(q);
        if (asked && q) { centreOnFirst(ids); }
        if (fresh && marks.focus && domOf[marks.focus]) { centreOnFirst([marks.focus]); }
        var key = next.key || "1", later = waiting && fresh ? firstPieces(waiting) : [];
        if (fresh && svg.parentNode !== canvas) { canvas.appendChild(svg); }
        selected = mark(marks.highlight || [], "ki-selected");
        matches = mark(ids, "ki-match");
        matchAt = 0;
        told(ids, q);
        drawing = key;
        canvas.setAttribute("data-ready", key);
        if (fresh) { canvas.removeAttribute("data-complete"); }
        // two frames later the browser has laid out and painted it: what bench/app_open.py waits for
        requestAnimationFrame(function () {
          requestAnimationFrame(function () {
            canvas.setAttribute("data-painted", key);
            if (fresh) { requestAnimationFrame(function () { drawLater(later, key); }); }
          });
        });
        performance.measure("ki-view", { start: t0 });
      }, function (error) {
        say("layout failed: " + error.message);
        canvas.setAttribute("data-error", error.message);
      });
    }
    return { show: show, fitWhole: fitWhole, firstView: firstView,
             warmUp: function () { return warmUp(options.graphvizUrl); },
             scale: function () { return view.s; }, readableScale: readableScale };
  }

  global.KerasInspectorViewer = { create: create };
})(window);
