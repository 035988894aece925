import inspector, keras
m = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None, alpha=0.35)
g = inspector.build_graph(m)
svg = inspector.render(g, "svg", color_by="macs")
open("/tmp/macs.svg","wb").write(svg)
print(len(svg))
