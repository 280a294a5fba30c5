// TopoJSON → SVG path strings, plain code (no dependencies): decodes the
// quantised, delta-encoded arcs of a world-atlas topology and projects
// longitude/latitude equirectangularly onto a 960 × 480 canvas.
"use strict";
window.Topo = (function () {
  function decodeArcs(topo) {
    const t = topo.transform;
    return topo.arcs.map(function (arc) {
      let x = 0, y = 0;
      return arc.map(function (p) {
        if (t) { x += p[0]; y += p[1]; return [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]]; }
        return [p[0], p[1]];
      });
    });
  }
  function project(p) { return [(p[0] + 180) * (960 / 360), (90 - p[1]) * (480 / 180)]; }
  function ring(arcs, idxs) {
    const pts = [];
    idxs.forEach(function (i, k) {
      let a = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
      if (k > 0) a = a.slice(1);
      for (const p of a) pts.push(p);
    });
    return pts;
  }
  function ringPath(pts) {
    let d = "";
    pts.forEach(function (p, i) {
      const q = project(p);
      d += (i ? "L" : "M") + q[0].toFixed(1) + "," + q[1].toFixed(1);
    });
    return d + "Z";
  }
  // [{id, name, d}] for every country geometry.
  function countries(topo, objectName) {
    const arcs = decodeArcs(topo);
    const obj = topo.objects[objectName || "countries"];
    return obj.geometries.map(function (g) {
      let polys = [];
      if (g.type === "Polygon") polys = [g.arcs];
      else if (g.type === "MultiPolygon") polys = g.arcs;
      const d = polys.map(function (poly) { return poly.map(function (r) { return ringPath(ring(arcs, r)); }).join(""); }).join("");
      return { id: g.id, name: (g.properties || {}).name || "", d: d };
    });
  }
  return { countries: countries, project: project };
})();
