/* The Streamlit component protocol (version 1), by hand: no npm build.
 * The app sends {type: "streamlit:render", args: {payload, marks, height}}; we answer with
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
  // the drawing comes as deflated JSON bytes (graph_viewer.pack); each render is shown in turn, and the last
  // drawing unpacked is kept, so that a render that only changes the marks does not unpack it again
  var height = 0, turn = Promise.resolve(), last = null, lastPayload = null;
  function same(a, b) {
    if (!a || !b || a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }
  function unpack(bytes) {
    if (same(bytes, last)) { return Promise.resolve(lastPayload); }
    var text = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"))).text();
    return text.then(function (json) { last = bytes; lastPayload = JSON.parse(json); return lastPayload; });
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
      var marks = args.marks || {};
      turn = turn.then(function () { return unpack(args.drawing); })
        .then(function (payload) { viewer.show(payload, marks); })
        .catch(function (error) { document.getElementById("ki-status").textContent = "drawing failed: " + error; });
    }
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
