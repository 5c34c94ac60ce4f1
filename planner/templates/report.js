/* The report's diagram zoom and pan, and "where does this go" (planner/render/explorer.py writes its
   data into the page). No library, nothing fetched: the page works from a file, offline. */
(function () {
  "use strict";
  var box = document.querySelector(".diagram");
  var svg = box && box.querySelector("svg");
  if (!svg) { return; }
  var SVG_NS = "http://www.w3.org/2000/svg";
  var base = svg.viewBox.baseVal;
  var home = [base.x, base.y, base.width, base.height];
  var view = home.slice();

  function show() { svg.setAttribute("viewBox", view.join(" ")); }
  function fit() { view = home.slice(); show(); }
  /* Zoom by factor f (below 1: closer) around the point (x, y) in the diagram's coordinates. */
  function zoom(f, x, y) {
    var w = view[2] * f;
    if (w > home[2] * 2 || w < home[2] / 30) { return; }
    view = [x - (x - view[0]) * f, y - (y - view[1]) * f, w, view[3] * f];
    show();
  }
  function centre() { return [view[0] + view[2] / 2, view[1] + view[3] / 2]; }
  /* Diagram units per screen pixel (the viewBox is fitted, "meet", into the element). */
  function unit() {
    var r = svg.getBoundingClientRect();
    return Math.max(view[2] / r.width, view[3] / r.height);
  }
  function pan(dx, dy) { var u = unit(); view[0] -= dx * u; view[1] -= dy * u; show(); }
  function at(clientX, clientY) {
    var p = svg.createSVGPoint();
    p.x = clientX; p.y = clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }

  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = at(e.clientX, e.clientY);
    zoom(e.deltaY < 0 ? 0.8 : 1.25, p.x, p.y);
  }, { passive: false });

  /* Mouse, pen and touch alike: one pointer pans, two pinch. */
  var pointers = new Map();
  var pinch = 0;
  svg.addEventListener("pointerdown", function (e) {
    svg.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
    pinch = 0;
  });
  svg.addEventListener("pointermove", function (e) {
    var last = pointers.get(e.pointerId);
    if (!last) { return; }
    if (pointers.size === 1) {
      pan(e.clientX - last[0], e.clientY - last[1]);
    } else if (pointers.size === 2) {
      var other = Array.from(pointers.entries()).filter(function (kv) { return kv[0] !== e.pointerId; })[0][1];
      var d = Math.hypot(e.clientX - other[0], e.clientY - other[1]);
      if (pinch > 0 && d > 0) {
        var p = at((e.clientX + other[0]) / 2, (e.clientY + other[1]) / 2);
        zoom(pinch / d, p.x, p.y);
      }
      pinch = d;
    }
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
  });
  function release(e) { pointers.delete(e.pointerId); pinch = 0; }
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);

  box.addEventListener("keydown", function (e) {
    var c = centre();
    var step = 60;
    var keys = {
      "+": function () { zoom(0.8, c[0], c[1]); }, "=": function () { zoom(0.8, c[0], c[1]); },
      "-": function () { zoom(1.25, c[0], c[1]); }, "0": fit,
      "ArrowLeft": function () { pan(step, 0); }, "ArrowRight": function () { pan(-step, 0); },
      "ArrowUp": function () { pan(0, step); }, "ArrowDown": function () { pan(0, -step); }
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var c = centre();
      var how = button.getAttribute("data-zoom");
      if (how === "fit") { fit(); } else { zoom(how === "in" ? 0.8 : 1.25, c[0], c[1]); }
    });
  });
  /* Print the whole estate, whatever the zoom on screen. */
  window.addEventListener("beforeprint", fit);

  var source = document.getElementById("explorer-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var pick = {
    origin: document.getElementById("x-origin"), level: document.getElementById("x-level"),
    group: document.getElementById("x-group"), tag: document.getElementById("x-tag")
  };
  var LEVELS = ["organisation", "community", "connected", "all", "sharing-group"];

  function option(select, value, text) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text;
    select.appendChild(o);
  }
  function fill(select, values, blank) {
    select.textContent = "";
    if (blank !== undefined) { option(select, "", blank); }
    values.forEach(function (v) { option(select, v, v); });
  }
  fill(pick.origin, data.origins, "(choose an origin)");
  fill(pick.tag, data.tags, "no tags");

  /* The levels and groups an origin can publish at: a feeder's own; an instance's host org's groups. */
  function choices() {
    var origin = pick.origin.value;
    var feeder = data.feeders[origin];
    if (feeder) {
      fill(pick.level, [feeder.level]);
      fill(pick.group, feeder.group ? [feeder.group] : [], feeder.group ? undefined : "none");
      pick.group.disabled = !feeder.group;
      return;
    }
    var n = data.instances.indexOf(origin);
    var groups = Object.keys(data.groups).filter(function (g) {
      return n >= 0 && data.groups[g].indexOf(data.host_orgs[n]) >= 0;
    });
    var keep = pick.level.value;
    fill(pick.level, groups.length ? LEVELS : LEVELS.slice(0, 4));
    if (keep && Array.prototype.some.call(pick.level.options, function (o) { return o.value === keep; })) {
      pick.level.value = keep;
    }
    var grouped = pick.level.value === "sharing-group";
    fill(pick.group, grouped ? groups : [], grouped ? undefined : "none");
    pick.group.disabled = !grouped;
  }

  var marks = [];
  function clear() {
    svg.querySelectorAll(".held, .unreached, .on, .off, .origin").forEach(function (el) {
      el.classList.remove("held", "unreached", "on", "off", "origin");
    });
    marks.forEach(function (m) { m.remove(); });
    marks = [];
    document.querySelector("#answer tbody").textContent = "";
    document.getElementById("x-title").textContent = "";
  }
  function mark(node, text, cls, why) {
    var g = svg.getElementById(node);
    if (!g) { return; }
    var b = g.getBBox();
    var t = document.createElementNS(SVG_NS, "text");
    t.setAttribute("x", b.x + b.width / 2);
    t.setAttribute("y", b.y + b.height + 12);
    t.setAttribute("text-anchor", "middle");
    t.setAttribute("class", cls);
    t.textContent = text;
    if (why) {  /* the reason, on hovering the mark */
      var tip = document.createElementNS(SVG_NS, "title");
      tip.textContent = why;
      t.appendChild(tip);
    }
    g.parentNode.appendChild(t);
    marks.push(t);
  }
  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c, i) {
      var td = document.createElement("td");
      td.textContent = c;
      if (i === 1) { td.className = "level"; }
      tr.appendChild(td);
    });
    document.querySelector("#answer tbody").appendChild(tr);
  }

  function answer() {
    clear();
    var origin = pick.origin.value;
    if (!origin) { return; }
    var key = [origin, pick.level.value, pick.group.disabled ? "" : pick.group.value, pick.tag.value].join("|");
    var a = data.answers[key];
    if (!a) {
      document.getElementById("x-title").textContent = "This event cannot exist in the estate (see the findings).";
      return;
    }
    svg.querySelectorAll("g.edge").forEach(function (e) { e.classList.add("off"); });
    var feeder = data.feeders[origin];
    if (feeder) {
      var node = svg.getElementById(feeder.node);
      if (node) { node.classList.add("origin"); }
      var edge = svg.getElementById("e_feeder_" + feeder.node);
      if (edge) { edge.classList.remove("off"); edge.classList.add("on"); }
    }
    data.instances.forEach(function (name, n) {
      var g = svg.getElementById(data.nodes[n]);
      var level = a.held[n];
      if (level) {
        if (g) { g.classList.add("held"); }
        mark(data.nodes[n], level + (a.timing.indexOf(n) >= 0 ? " (timing)" : ""), "held-level");
        var path = a.paths[n] || [n];
        for (var k = 1; k < path.length; k++) {
          var pair = Math.min(path[k - 1], path[k]) + " " + Math.max(path[k - 1], path[k]);
          (data.edges[pair] || []).forEach(function (id) {
            var e = svg.getElementById(id);
            if (e) { e.classList.remove("off"); e.classList.add("on"); }
          });
        }
        row([name, level, path.map(function (i) { return data.instances[i]; }).join(" -> ")]);
      } else {
        if (g) { g.classList.add("unreached"); }
        mark(data.nodes[n], "not reached", "why-not", data.reasons[a.why[n]]);
        row([name, "-", data.reasons[a.why[n]]]);
      }
    });
    var held = Object.keys(a.held).length;
    document.getElementById("x-title").textContent = origin + " publishes at " + pick.level.value
      + (pick.tag.value ? ", tagged " + pick.tag.value : ", no tags") + ": " + held + " of "
      + data.instances.length + (data.instances.length === 1 ? " instance" : " instances")
      + (held === 1 ? " holds" : " hold") + " a copy.";
  }

  pick.origin.addEventListener("change", function () { choices(); answer(); });
  pick.level.addEventListener("change", function () { choices(); answer(); });
  pick.group.addEventListener("change", answer);
  pick.tag.addEventListener("change", answer);
  document.getElementById("x-clear").addEventListener("click", function () {
    pick.origin.value = ""; clear();
  });
  choices();
})();
