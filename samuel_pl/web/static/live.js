"use strict";
// Live mode: the microphone (AudioWorklet) streams to /api/live over a WebSocket; accompaniment
// chunks come back and play `latency` seconds after the vocal they answer was sung.
(() => {
  const $ = (id) => document.getElementById(id);
  let info = null;
  let take = null;
  // What the page has heard, for tests and the readout.
  window.samuelLive = { state: "idle", chunks: [], underruns: 0, latencies: [] };

  async function init() {
    try {
      const r = await fetch("/api/info");
      info = await r.json();
    } catch (e) {
      return;
    }
    if (!info.live) return;
    $("live-card").hidden = false;
    $("live-start").addEventListener("click", () => (take ? stop() : start()));
  }

  function readout(text) {
    $("live-readout").textContent = text;
  }

  async function start() {
    const sr = info.sample_rate;
    const latency = Number($("live-latency").value);
    const live = (window.samuelLive = { state: "starting", chunks: [], underruns: 0, latencies: [] });
    $("live-take").hidden = true;
    let mic;
    try {
      mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (e) {
      readout(`No microphone: ${e.message}`);
      live.state = "error";
      return;
    }
    const ctx = new AudioContext({ sampleRate: sr });
    await ctx.audioWorklet.addModule("/static/live-worklet.js");
    const node = new AudioWorkletNode(ctx, "samuel-capture");
    const mute = ctx.createGain();
    mute.gain.value = 0;
    ctx.createMediaStreamSource(mic).connect(node);
    node.connect(mute).connect(ctx.destination); // keeps the worklet running, silently
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/live?latency=${latency}`);
    ws.binaryType = "arraybuffer";
    take = { ctx, mic, ws, node, latency, sr, vocal: [], acc: [], t0: null, sent: 0, ready: false };
    $("live-start").textContent = "■ Stop";
    $("live-start").classList.add("recording");
    readout("Connecting…");

    node.port.onmessage = (ev) => {
      if (!take || !take.ready || ws.readyState !== WebSocket.OPEN) return;
      const x = ev.data.samples;
      if (take.t0 === null) take.t0 = ev.data.time;
      take.vocal.push(x);
      const pcm = new Int16Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const v = Math.max(-1, Math.min(1, x[i]));
        pcm[i] = v < 0 ? v * 0x8000 : v * 0x7fff;
      }
      ws.send(pcm.buffer);
      take.sent += x.length;
    };
    ws.onmessage = (ev) => (typeof ev.data === "string" ? onText(JSON.parse(ev.data)) : onChunk(ev.data));
    ws.onclose = () => finish();
    ws.onerror = () => readout("The live connection failed.");
  }

  function onText(msg) {
    const live = window.samuelLive;
    if (msg.type === "ready") {
      take.ready = true;
      live.state = "live";
      live.chunkSeconds = msg.chunk_s;
      readout(`Live: sing! (chunks of ${msg.chunk_s.toFixed(2)} s, lookahead ${msg.lookahead_s.toFixed(2)} s)`);
    } else if (msg.type === "end") {
      live.summary = msg.summary;
    } else if (msg.type === "error") {
      readout(msg.message);
      live.state = "error";
    }
  }

  function onChunk(buffer) {
    if (!take || take.t0 === null) return;
    const head = new DataView(buffer, 0, 16);
    const index = head.getUint32(0, true), start = head.getUint32(4, true);
    const serverLatency = head.getFloat32(8, true), flags = head.getUint32(12, true);
    const audio = new Float32Array(buffer, 16);
    const { ctx, sr, latency } = take;
    const sung = take.t0 + start / sr; // context time of the chunk's first vocal sample
    const now = ctx.currentTime;
    const heardAfter = now - sung; // the round trip, from singing to the chunk being here
    const late = now > sung + latency || (flags & 2) !== 0;
    const live = window.samuelLive;
    live.chunks.push({ index, start, samples: audio.length, latency: heardAfter, serverLatency, late, at: now, wall: performance.now() / 1000 });
    live.latencies.push(heardAfter);
    if (late) live.underruns += 1;
    take.acc.push({ start, audio: audio.slice() });
    if (audio.length && !(flags & 2)) {
      const buf = ctx.createBuffer(1, audio.length, sr);
      buf.copyToChannel(audio, 0);
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(ctx.destination);
      const when = sung + latency;
      if (when >= now) src.start(when);
      else if (now - when < audio.length / sr) src.start(now, now - when); // the late part is lost
    }
    const sorted = [...live.latencies].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))];
    readout(`latency ${heardAfter.toFixed(2)} s (p95 ${p95.toFixed(2)} s, server ${serverLatency.toFixed(2)} s) · underruns ${live.underruns}`);
  }

  function stop() {
    if (!take) return;
    readout("Stopping… the last chunks are on their way.");
    take.mic.getTracks().forEach((t) => t.stop());
    take.node.port.onmessage = null;
    if (take.ws.readyState === WebSocket.OPEN) take.ws.send(JSON.stringify({ type: "stop" }));
    else finish();
  }

  function finish() {
    if (!take) return;
    const { ctx, sr, vocal, acc } = take;
    take.mic.getTracks().forEach((t) => t.stop());
    take = null;
    $("live-start").textContent = "● Start live";
    $("live-start").classList.remove("recording");
    const n = vocal.reduce((s, x) => s + x.length, 0);
    const v = new Float32Array(n);
    vocal.reduce((at, x) => (v.set(x, at), at + x.length), 0);
    const mix = v.slice();
    for (const { start, audio } of acc) {
      for (let i = 0; i < audio.length && start + i < n; i++) mix[start + i] += audio[i];
    }
    let peak = 1e-9;
    for (const x of mix) peak = Math.max(peak, Math.abs(x));
    if (peak > 0.99) for (let i = 0; i < n; i++) mix[i] *= 0.99 / peak;
    const vocalUrl = URL.createObjectURL(pcmWav(v, sr));
    const mixUrl = URL.createObjectURL(pcmWav(mix, sr));
    $("live-vocal-download").href = vocalUrl;
    $("live-mix-download").href = mixUrl;
    $("live-mix-player").src = mixUrl;
    $("live-take").hidden = n === 0;
    const live = window.samuelLive;
    live.state = "done";
    live.takeSeconds = n / sr;
    readout(`Take kept: ${(n / sr).toFixed(1)} s · underruns ${live.underruns}`);
    ctx.close();
  }

  function pcmWav(x, sr) {
    const out = new DataView(new ArrayBuffer(44 + x.length * 2));
    const text = (at, s) => [...s].forEach((c, i) => out.setUint8(at + i, c.charCodeAt(0)));
    text(0, "RIFF"); out.setUint32(4, 36 + x.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); out.setUint32(16, 16, true); out.setUint16(20, 1, true);
    out.setUint16(22, 1, true); out.setUint32(24, sr, true); out.setUint32(28, sr * 2, true);
    out.setUint16(32, 2, true); out.setUint16(34, 16, true);
    text(36, "data"); out.setUint32(40, x.length * 2, true);
    for (let i = 0, at = 44; i < x.length; i++, at += 2) {
      const v = Math.max(-1, Math.min(1, x[i]));
      out.setInt16(at, v < 0 ? v * 0x8000 : v * 0x7fff, true);
    }
    return new Blob([out], { type: "audio/wav" });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
