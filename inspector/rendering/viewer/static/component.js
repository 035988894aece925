/* The Streamlit component protocol (version 1), by hand: no npm build.
 * The app sends {type: "streamlit:render", args: {drawing, version, marks (JSON text), height}}; we answer with
 * componentReady once, setFrameHeight on each render, and setComponentValue for each click and, when the app
 * asks (report_paint), once when the first drawing is painted. */
(function () {
  "use strict";
  function send(type, data) {
    var message = { isStreamlitMessage: true, type: type };
    Object.keys(data || {}).forEach(function (k) { message[k] = data[k]; });
    window.parent.postMessage(message, "*");
  }
  var viewer = window.KerasInspectorViewer.create({
    graphvizUrl: new URL("vendor/graphviz.js", document.baseURI).href,
    onEvent: function (event) { send("streamlit:setComponentValue", { value: event, dataType: "json" }); },
  });
  // the drawing comes as deflated JSON bytes (graph_viewer.pack) with their digest (version); each render is
  // shown in turn, and the last drawing unpacked is kept, so that a render of the same version (only the marks
  // changed) does not unpack it again
  var height = 0, turn = Promise.resolve(), lastVersion = null, lastPayload = null, reported = false;
  function unpack(bytes, version) {
    if (version && version === lastVersion) { return Promise.resolve(lastPayload); }
    var text = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"))).text();
    return text.then(function (json) { lastVersion = version; lastPayload = JSON.parse(json); return lastPayload; });
  }
  // two frames after it is shown the drawing is painted (viewer.js marks data-painted then): the app waits for this
  // report to begin its background work (TensorFlow's import would take the server from the page until then)
  function reportPaint() {
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        send("streamlit:setComponentValue", { value: { type: "painted", nonce: "painted-" + Date.now() }, dataType: "json" });
      });
    });
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "streamlit:render") { return; }
    var args = data.args || {};
    if (args.height && args.height !== height) {
      height = args.height;
      send("streamlit:setFrameHeight", { height: height });
    }
    if (args.drawing) {
      var marks = args.marks ? JSON.parse(args.marks) : {};
      turn = turn.then(function () { return unpack(args.drawing, args.version); })
        .then(function (payload) { return viewer.show(payload, marks); })
        .then(function () { if (args.report_paint && !reported) { reported = true; reportPaint(); } })
        .catch(function (error) { document.getElementById("ki-status").textContent = "drawing failed: " + error; });
    }
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
