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
  var height = 0;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "streamlit:render") { return; }
    var args = data.args || {};
    if (args.height && args.height !== height) {
      height = args.height;
      send("streamlit:setFrameHeight", { height: height });
    }
    if (args.payload) { viewer.show(args.payload, args.marks || {}); }
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
