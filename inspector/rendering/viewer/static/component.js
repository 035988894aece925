/* The Streamlit component protocol (version 1), by hand: no npm build.
 * The app sends {type: "streamlit:render", args: {drawing, version, marks (JSON text), height}}; we answer with
 * componentReady once, setFrameHeight on each render, and setComponentValue for each click. */
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
  var height = 0, turn = Promise.resolve(), lastVersion = null, lastPayload = null, warm = false;
  function unpack(bytes, version) {
    if (version && version === lastVersion) { return Promise.resolve(lastPayload); }
    var text = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"))).text();
    return text.then(function (json) { lastVersion = version; lastPayload = JSON.parse(json); return lastPayload; });
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
        .then(function (payload) {
          return viewer.show(payload, marks).then(function () {
            // the server has no Graphviz: the next drawings are laid out here too, so the engine is warmed now
            if (!warm && payload.dot && typeof payload.svg !== "string") {
              warm = true;
              viewer.warmUp().then(function () { document.getElementById("ki-canvas").setAttribute("data-warm", "1"); });
            }
          });
        })
        .catch(function (error) { document.getElementById("ki-status").textContent = "drawing failed: " + error; });
    }
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
