"use strict";
// Draws the history from the JSON above: the timeline and the plots share one
// time window, which dragging, the wheel, the buttons and the inputs move.
// Only text is ever written into the page (textContent), never markup.
(function () {
  const errors = [];
  window.addEventListener("error", function (event) {
    errors.push(String(event.message));
    document.body.dataset.errors = errors.join(" | ");
  });

  const data = JSON.parse(document.getElementById("faultline-data").textContent);
  const OUTCOMES = ["ok", "fail", "info"];
  const COLORS = { ok: "#2e8b57", fail: "#c9302c", info: "#d98e04" };
  const FAULT_COLORS = {
    partition: "rgba(70, 110, 220, 0.16)",
    kill: "rgba(200, 40, 40, 0.14)",
    pause: "rgba(150, 60, 200, 0.15)",
    clock: "rgba(230, 150, 0, 0.16)",
    packet: "rgba(0, 150, 150, 0.15)",
  };

  // Operations, decoded from their columns (times in microseconds).
  const columns = data.ops;
  const count = columns.lane.length;
  const start = new Float64Array(count);
  const end = new Float64Array(count);
  const line = new Float64Array(count);
  let endUs = data.end_us;
  let time = 0;
  let lineNumber = 0;
  for (let i = 0; i < count; i++) {
    time += columns.start_delta[i];
    lineNumber += columns.line_delta[i];
    start[i] = time;
    line[i] = lineNumber;
    end[i] = columns.duration[i] < 0 ? NaN : time + columns.duration[i];
    if (end[i] > endUs) endUs = end[i];
  }
  endUs = Math.max(endUs, 1);
  const lanes = data.processes.length;
  const byLane = [];
  for (let l = 0; l < lanes; l++) byLane.push([]);
  for (let i = 0; i < count; i++) byLane[columns.lane[i]].push(i);
  const opEnd = (i) => (isNaN(end[i]) ? endUs : end[i]);
  let longest = 0;
  for (let i = 0; i < count; i++) longest = Math.max(longest, opEnd(i) - start[i]);
  function firstStartingAfter(t) {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (start[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  const view = { from: 0, to: endUs };
  const LEFT = 56;
  const RIGHT = 10;

  function fit(canvas, cssHeight) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(canvas.parentElement.clientWidth - 2, 300);
    const pixels = [Math.round(width * ratio), Math.round(cssHeight * ratio)];
    // Resizing reallocates the canvas: only when its size changed.
    if (canvas.width !== pixels[0] || canvas.height !== pixels[1]) {
      canvas.style.height = cssHeight + "px";
      canvas.width = pixels[0];
      canvas.height = pixels[1];
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { context, width, height: cssHeight };
  }

  function xScale(width) {
    const span = view.to - view.from;
    return (t) => LEFT + ((t - view.from) / span) * (width - LEFT - RIGHT);
  }

  function niceStep(span, target) {
    const raw = span / target;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }

  function timeAxis(context, width, y, top) {
    const x = xScale(width);
    const step = niceStep((view.to - view.from) / 1e6, 8);
    context.fillStyle = "#5f6b76";
    context.strokeStyle = "#e4e8eb";
    context.font = "11px system-ui, sans-serif";
    context.textAlign = "center";
    const first = Math.ceil(view.from / 1e6 / step) * step;
    for (let s = first; s * 1e6 <= view.to; s += step) {
      const px = x(s * 1e6);
      context.beginPath();
      context.moveTo(px, top);
      context.lineTo(px, y);
      context.stroke();
      context.fillText(formatSeconds(s, step), px, y + 12);
    }
    context.textAlign = "left";
  }

  function formatSeconds(s, step) {
    const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step))));
    return s.toFixed(digits) + " s";
  }

  function faultBands(context, width, top, bottom) {
    const x = xScale(width);
    for (const fault of data.faults) {
      if (fault.end_us < view.from || fault.start_us > view.to) continue;
      const x0 = Math.max(LEFT, x(fault.start_us));
      const x1 = Math.min(width - RIGHT, x(fault.end_us));
      context.fillStyle = FAULT_COLORS[fault.kind] || "rgba(0,0,0,0.1)";
      context.fillRect(x0, top, Math.max(1, x1 - x0), bottom - top);
    }
  }

  // The timeline: a lane per process.
  const timeline = document.getElementById("timeline");
  const laneHeight = Math.max(3, Math.min(18, Math.floor(560 / Math.max(1, lanes))));
  const TOP = 4;
  const timelineHeight = TOP + lanes * laneHeight + 22;

  function drawTimeline() {
    const { context, width } = fit(timeline, timelineHeight);
    const x = xScale(width);
    const bottom = TOP + lanes * laneHeight;
    context.clearRect(0, 0, width, timelineHeight);
    faultBands(context, width, TOP, bottom);
    timeAxis(context, width, bottom, TOP);
    if (laneHeight >= 10) {
      context.fillStyle = "#5f6b76";
      context.font = "10px system-ui, sans-serif";
      for (let l = 0; l < lanes; l++) {
        context.fillText("p" + data.processes[l], 4, TOP + l * laneHeight + laneHeight - 3);
      }
    }
    context.save();
    context.beginPath();
    context.rect(LEFT, 0, width - LEFT - RIGHT, timelineHeight);
    context.clip();
    const pad = laneHeight >= 6 ? 1 : 0;
    // Operations are in invocation order: start from the first that can
    // reach the window; skip one that would only repaint its lane's last pixel.
    const first = firstStartingAfter(view.from - longest);
    const lastPixel = new Float64Array(lanes);
    for (let o = 0; o < 3; o++) {
      context.fillStyle = COLORS[OUTCOMES[o]];
      lastPixel.fill(-1);
      for (let i = first; i < count && start[i] <= view.to; i++) {
        if (columns.outcome[i] !== o) continue;
        const e = opEnd(i);
        if (e < view.from) continue;
        const x0 = x(start[i]);
        const w = Math.max(1, x(e) - x0);
        const lane = columns.lane[i];
        const pixel = Math.floor(x0);
        if (w <= 1 && pixel === lastPixel[lane]) continue;
        lastPixel[lane] = pixel;
        context.fillRect(x0, TOP + lane * laneHeight + pad, w, laneHeight - 2 * pad);
      }
    }
    context.restore();
    document.getElementById("range-from").value = (view.from / 1e6).toFixed(3);
    document.getElementById("range-to").value = (view.to / 1e6).toFixed(3);
  }

  // Plots share the axes' code: x is the time window, y linear or log.
  function plot(id, options) {
    const canvas = document.getElementById(id);
    const { context, width, height } = fit(canvas, 220);
    const top = 8;
    const bottom = height - 20;
    context.clearRect(0, 0, width, height);
    faultBands(context, width, top, bottom);
    timeAxis(context, width, bottom, top);
    let low = Infinity;
    let high = -Infinity;
    for (const series of options.series) {
      for (const point of series.points) {
        if (point[0] < view.from || point[0] > view.to) continue;
        if (options.log && !(point[1] > 0)) continue;
        low = Math.min(low, point[1]);
        high = Math.max(high, point[1]);
      }
    }
    if (!isFinite(low)) {
      low = options.log ? 1 : 0;
      high = low + 1;
    }
    if (!options.log) low = Math.min(0, low);
    if (high === low) high = low + 1;
    const f = options.log ? Math.log10 : (v) => v;
    const lo = options.log ? Math.floor(f(low)) : low;
    const hi = options.log ? Math.ceil(f(high)) : high * 1.05;
    const y = (v) => bottom - ((f(v) - lo) / (hi - lo || 1)) * (bottom - top);
    context.fillStyle = "#5f6b76";
    context.strokeStyle = "#e4e8eb";
    context.font = "11px system-ui, sans-serif";
    const ticks = [];
    if (options.log) {
      for (let p = lo; p <= hi; p++) ticks.push(Math.pow(10, p));
    } else {
      const step = niceStep(hi - lo, 5);
      for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(v);
    }
    for (const v of ticks) {
      const py = y(v);
      context.beginPath();
      context.moveTo(LEFT, py);
      context.lineTo(width - RIGHT, py);
      context.stroke();
      context.fillText(formatValue(v) + options.unit, 2, py + 4);
    }
    const x = xScale(width);
    context.save();
    context.beginPath();
    context.rect(LEFT, top, width - LEFT - RIGHT, bottom - top);
    context.clip();
    for (const series of options.series) {
      context.fillStyle = series.color;
      context.strokeStyle = series.color;
      if (series.dots) {
        // One dot per pixel: thousands on the same spot draw as one.
        const drawn = new Set();
        for (const point of series.points) {
          if (point[0] < view.from || point[0] > view.to) continue;
          const px = Math.round(x(point[0]));
          const py = Math.round(y(point[1]));
          const spot = px * 4096 + py;
          if (drawn.has(spot)) continue;
          drawn.add(spot);
          context.fillRect(px - 1, py - 1, 2, 2);
        }
      } else {
        context.lineWidth = 1.5;
        context.beginPath();
        let moved = false;
        for (const point of series.points) {
          if (options.log && !(point[1] > 0)) {
            moved = false;
            continue;
          }
          if (moved) context.lineTo(x(point[0]), y(point[1]));
          else context.moveTo(x(point[0]), y(point[1]));
          moved = true;
        }
        context.stroke();
      }
    }
    context.restore();
    let legendX = LEFT + 8;
    for (const series of options.series) {
      context.fillStyle = series.color;
      context.fillRect(legendX, top + 2, 10, 10);
      context.fillStyle = "#1d2329";
      context.fillText(series.name, legendX + 14, top + 11);
      legendX += 24 + context.measureText(series.name).width;
    }
  }

  function formatValue(v) {
    if (v >= 1000 || v === Math.round(v)) return String(Math.round(v));
    return v.toPrecision(2);
  }

  // Latencies (ms) of completed operations, by outcome.
  const latencyPoints = [[], [], []];
  for (let i = 0; i < count; i++) {
    if (!isNaN(end[i])) latencyPoints[columns.outcome[i]].push([start[i], (end[i] - start[i]) / 1000]);
  }

  function buckets() {
    const n = 60;
    const width = (view.to - view.from) / n;
    const inBucket = [];
    for (let b = 0; b < n; b++) inBucket.push({ t: view.from + (b + 0.5) * width, latencies: [], counts: [0, 0, 0] });
    for (let i = firstStartingAfter(view.from); i < count && start[i] <= view.to; i++) {
      const bucket = inBucket[Math.min(n - 1, Math.floor((start[i] - view.from) / width))];
      bucket.counts[columns.outcome[i]] += 1;
      if (!isNaN(end[i])) bucket.latencies.push((end[i] - start[i]) / 1000);
    }
    return { list: inBucket, seconds: width / 1e6 };
  }

  function drawPlots() {
    plot("plot-latency", {
      log: true,
      unit: " ms",
      series: OUTCOMES.map((name, o) => ({ name, color: COLORS[name], dots: true, points: latencyPoints[o] })),
    });
    const { list, seconds } = buckets();
    const quantiles = [
      ["0.5", 0.5, "#1f6fb2"],
      ["0.95", 0.95, "#7b3fb5"],
      ["0.99", 0.99, "#d98e04"],
      ["max", 1, "#c9302c"],
    ];
    for (const bucket of list) bucket.latencies.sort((a, b) => a - b);
    plot("plot-quantiles", {
      log: true,
      unit: " ms",
      series: quantiles.map(([name, q, color]) => ({
        name,
        color,
        points: list.map((bucket) => {
          const l = bucket.latencies;
          return [bucket.t, l.length ? l[Math.min(l.length - 1, Math.floor(q * l.length))] : NaN];
        }),
      })),
    });
    plot("plot-rate", {
      log: false,
      unit: "/s",
      series: OUTCOMES.map((name, o) => ({
        name,
        color: COLORS[name],
        points: list.map((bucket) => [bucket.t, bucket.counts[o] / seconds]),
      })),
    });
    const nodes = Object.keys(data.clocks);
    if (nodes.length) {
      document.getElementById("clock-plot").hidden = false;
      const palette = ["#1f6fb2", "#c9302c", "#2e8b57", "#7b3fb5", "#d98e04", "#555"];
      plot("plot-clocks", {
        log: false,
        unit: " s",
        series: nodes.map((node, n) => {
          const points = [[0, 0]];
          for (const [t, offset] of data.clocks[node]) {
            points.push([t * 1e6, points[points.length - 1][1]]);
            points.push([t * 1e6, offset]);
          }
          points.push([endUs, points[points.length - 1][1]]);
          return { name: node, color: palette[n % palette.length], points };
        }),
      });
    }
  }

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      drawTimeline();
      drawPlots();
    });
  }

  function setView(from, to) {
    const minimum = 10;
    if (!(to - from >= minimum)) {
      const middle = (from + to) / 2;
      from = middle - minimum / 2;
      to = middle + minimum / 2;
    }
    view.from = Math.max(0, from);
    view.to = Math.min(endUs, to);
    if (view.to - view.from < minimum) {
      view.from = 0;
      view.to = endUs;
    }
    redraw();
  }

  function zoom(factor, centre) {
    const c = centre === undefined ? (view.from + view.to) / 2 : centre;
    setView(c - (c - view.from) * factor, c + (view.to - c) * factor);
  }

  function timeAt(canvas, clientX) {
    const rect = canvas.getBoundingClientRect();
    const fraction = (clientX - rect.left - LEFT) / (rect.width - LEFT - RIGHT);
    return view.from + fraction * (view.to - view.from);
  }

  for (const canvas of [timeline].concat(Array.from(document.querySelectorAll("canvas.plot")))) {
    canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoom(event.deltaY > 0 ? 1.25 : 0.8, timeAt(canvas, event.clientX));
    }, { passive: false });
    canvas.addEventListener("dblclick", () => setView(0, endUs));
    canvas.addEventListener("mousedown", function (event) {
      const origin = { x: event.clientX, from: view.from, to: view.to };
      const width = canvas.getBoundingClientRect().width - LEFT - RIGHT;
      function move(e) {
        const shift = ((e.clientX - origin.x) / width) * (origin.to - origin.from);
        const span = origin.to - origin.from;
        let from = Math.max(0, origin.from - shift);
        from = Math.min(from, endUs - span);
        setView(from, from + span);
      }
      function up() {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
      }
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
  }
  document.getElementById("zoom-in").addEventListener("click", () => zoom(0.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(2));
  document.getElementById("zoom-reset").addEventListener("click", () => setView(0, endUs));
  document.getElementById("range-go").addEventListener("click", function () {
    const from = parseFloat(document.getElementById("range-from").value) * 1e6;
    const to = parseFloat(document.getElementById("range-to").value) * 1e6;
    if (isFinite(from) && isFinite(to) && to > from) setView(from, to);
  });

  // The tooltip: the operation under the pointer, or the faults in force.
  const tooltip = document.getElementById("tooltip");
  timeline.addEventListener("mousemove", function (event) {
    const rect = timeline.getBoundingClientRect();
    const l = Math.floor((event.clientY - rect.top - TOP) / laneHeight);
    const t = timeAt(timeline, event.clientX);
    const slack = (3 / (rect.width - LEFT - RIGHT)) * (view.to - view.from);
    const lines = [];
    if (l >= 0 && l < lanes) {
      const ops = byLane[l];
      let lo = 0;
      let hi = ops.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (start[ops[mid]] <= t + slack) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo - 1; k >= 0 && k >= lo - 3; k--) {
        const i = ops[k];
        if (opEnd(i) + slack >= t) {
          const span = isNaN(end[i])
            ? (start[i] / 1000).toFixed(3) + " ms, never completed"
            : (start[i] / 1000).toFixed(3) + "–" + (end[i] / 1000).toFixed(3) + " ms";
          lines.push("p" + data.processes[l] + " " + columns.text[i] + "\n" + OUTCOMES[columns.outcome[i]] + ", " + span + ", line " + line[i]);
          break;
        }
      }
    }
    for (const fault of data.faults) {
      if (fault.start_us <= t && t <= fault.end_us) lines.push(fault.text);
    }
    if (lines.length) {
      tooltip.textContent = lines.join("\n");
      tooltip.style.left = event.clientX + 14 + "px";
      tooltip.style.top = event.clientY + 14 + "px";
      tooltip.hidden = false;
    } else {
      tooltip.hidden = true;
    }
  });
  timeline.addEventListener("mouseleave", () => (tooltip.hidden = true));

  const legend = document.getElementById("legend");
  const kinds = OUTCOMES.map((name) => [name, COLORS[name]]);
  for (const kind of new Set(data.faults.map((fault) => fault.kind))) kinds.push([kind, FAULT_COLORS[kind] || "rgba(0,0,0,0.1)"]);
  for (const [name, color] of kinds) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = color;
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(name));
    legend.appendChild(item);
  }

  window.addEventListener("resize", redraw);
  // How long one full redraw takes: what each pan or zoom costs.
  const drawStarted = performance.now();
  drawTimeline();
  drawPlots();
  document.body.dataset.firstDrawMs = String(Math.round(performance.now() - drawStarted));
  document.body.dataset.rendered = "yes";
  document.body.dataset.operations = String(count);
  window.addEventListener("load", function () {
    const navigation = performance.getEntriesByType("navigation")[0];
    if (navigation) document.body.dataset.domContentLoadedMs = String(Math.round(navigation.domContentLoadedEventEnd));
    // A second draw, as a pan or zoom makes (the canvases are sized by now).
    const again = performance.now();
    drawTimeline();
    drawPlots();
    document.body.dataset.drawMs = String(Math.round(performance.now() - again));
  });
})();
