// SAMUeL web demo: pick or record a vocal, submit it as the raw body of POST /api/jobs, poll the
// job until it is done, then show the players, the spectrogram and the timings.
"use strict";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
let info = null;     // GET /api/info
let vocal = null;    // {blob, name}
let recorder = null; // {media, stream, timer, started}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function setStatus(text, fraction) {
  $("progress-box").hidden = false;
  $("status").textContent = text;
  if (fraction === null) $("progress").removeAttribute("value");
  else $("progress").value = fraction;
}

async function loadInfo() {
  const response = await fetch("/api/info");
  info = await response.json();
  const d = info.defaults, lim = info.limits;
  for (const name of info.samplers) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = name;
    $("sampler").append(opt);
  }
  for (const name of info.spacings) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = name;
    $("spacing").append(opt);
  }
  $("sampler").value = d.sampler;
  $("spacing").value = d.spacing;
  $("steps").value = d.steps;
  $("steps").max = lim.max_steps;
  $("cfg").value = d.cfg;
  syncSteps();
  $("model").textContent = `Model ${info.checkpoint || "(unnamed)"} on ${info.device}, ` +
    `output ${info.sample_rate} Hz. One generation runs at a time; others wait in a queue.`;
  $("limits").textContent = `Accepted: ${lim.format_names}; ` +
    `up to ${lim.max_mb} MB and ${lim.max_seconds} s. Recording needs a microphone.`;
  document.body.dataset.state = "ready";
}

function syncSteps() {
  const ancestral = $("sampler").value === "ancestral";
  $("steps").disabled = $("spacing").disabled = ancestral;
  if (ancestral) $("steps").value = info.train_steps;
}

function setVocal(blob, name) {
  const lim = info.limits;
  const ext = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  vocal = null;
  $("generate").disabled = true;
  if (!lim.formats.includes(ext)) {
    showError(`${name}: unsupported file type; accepted: ${lim.format_names}`);
    return;
  }
  if (blob.size > lim.max_bytes) {
    showError(`${name} is ${(blob.size / 2 ** 20).toFixed(1)} MB; the limit is ${lim.max_mb} MB`);
    return;
  }
  showError("");
  vocal = { blob, name };
  const player = $("vocal-player");
  if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(blob);
  player.hidden = false;
  $("file-info").textContent = `${name} · ${(blob.size / 1024).toFixed(0)} KB`;
  $("generate").disabled = false;
}

function checkDuration() {
  const seconds = $("vocal-player").duration;
  if (vocal && Number.isFinite(seconds)) {
    $("file-info").textContent = `${vocal.name} · ${seconds.toFixed(1)} s`;
    if (seconds > info.limits.max_seconds) {
      showError(`the vocal is ${seconds.toFixed(1)} s long; the limit is ` +
        `${info.limits.max_seconds} s`);
      $("generate").disabled = true;
    }
  }
}

// ----- recording: MediaRecorder, decoded by the browser and re-encoded as 16-bit WAV ----------
async function toggleRecord() {
  if (recorder) { recorder.media.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("recording needs a browser with microphone access over https or localhost");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(`no microphone: ${err.message || err}`);
    return;
  }
  const chunks = [];
  const media = new MediaRecorder(stream);
  media.ondataavailable = (e) => chunks.push(e.data);
  media.onstop = async () => {
    clearInterval(recorder.timer);
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    $("record").classList.remove("recording");
    $("record").textContent = "● Record";
    try {
      const wav = await toWav(new Blob(chunks, { type: media.mimeType }));
      setVocal(wav, "recording.wav");
    } catch (err) {
      showError(`the recording could not be decoded: ${err.message || err}`);
    }
  };
  recorder = { media, stream, started: performance.now() };
  recorder.timer = setInterval(() => {
    const s = (performance.now() - recorder.started) / 1000;
    $("record").textContent = `■ Stop (${s.toFixed(0)} s)`;
    if (s >= info.limits.max_seconds - 0.5) media.stop();
  }, 250);
  $("record").classList.add("recording");
  $("record").textContent = "■ Stop";
  media.start();
}

async function toWav(blob) {
  const ctx = new AudioContext();
  const buffer = await ctx.decodeAudioData(await blob.arrayBuffer());
  ctx.close();
  const channels = buffer.numberOfChannels, n = buffer.length;
  const out = new DataView(new ArrayBuffer(44 + n * channels * 2));
  const text = (at, s) => [...s].forEach((c, i) => out.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); out.setUint32(4, 36 + n * channels * 2, true); text(8, "WAVE");
  text(12, "fmt "); out.setUint32(16, 16, true); out.setUint16(20, 1, true);
  out.setUint16(22, channels, true); out.setUint32(24, buffer.sampleRate, true);
  out.setUint32(28, buffer.sampleRate * channels * 2, true);
  out.setUint16(32, channels * 2, true); out.setUint16(34, 16, true);
  text(36, "data"); out.setUint32(40, n * channels * 2, true);
  const data = [...Array(channels).keys()].map((c) => buffer.getChannelData(c));
  for (let i = 0, at = 44; i < n; i++) {
    for (let c = 0; c < channels; c++, at += 2) {
      const x = Math.max(-1, Math.min(1, data[c][i]));
      out.setInt16(at, x < 0 ? x * 0x8000 : x * 0x7fff, true);
    }
  }
  return new Blob([out], { type: "audio/wav" });
}

// ----- generation ------------------------------------------------------------------------------
async function generate() {
  if (!vocal) return;
  showError("");
  $("result").hidden = true;
  $("generate").disabled = true;
  document.body.dataset.state = "busy";
  const t0 = performance.now();
  const query = new URLSearchParams({
    filename: vocal.name, sampler: $("sampler").value, steps: $("steps").value,
    spacing: $("spacing").value, cfg: $("cfg").value, seed: $("seed").value,
  });
  try {
    setStatus("uploading…", null);
    const response = await fetch(`/api/jobs?${query}`, {
      method: "POST", body: vocal.blob, headers: { "content-type": "application/octet-stream" },
    });
    let job = await readJson(response);
    while (job.state === "queued" || job.state === "running") {
      showProgress(job);
      await sleep(250);
      job = await readJson(await fetch(`/api/jobs/${job.id}`));
    }
    if (job.state === "failed") throw new Error(job.error);
    await showResult(job, t0);
  } catch (err) {
    $("progress-box").hidden = true;
    showError(err.message || String(err));
    document.body.dataset.state = "failed";
  } finally {
    $("generate").disabled = !vocal;
  }
}

async function readJson(response) {
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

function showProgress(job) {
  if (job.state === "queued") {
    setStatus(`waiting in the queue (position ${job.position})`, null);
    return;
  }
  const { done, total } = job.progress;
  if (job.stage === "sampling" && total > 0) {
    setStatus(`sampling: step ${done} of ${total} · ${job.elapsed.toFixed(1)} s`, done / total);
  } else {
    setStatus(`${job.stage} · ${job.elapsed.toFixed(1)} s`, total > 0 ? done / total : null);
  }
}

async function showResult(job, t0) {
  const r = job.result, stem = vocal.name.replace(/\.[^.]*$/, "");
  for (const [key, player, link] of [["accompaniment", "acc-player", "acc-download"],
    ["mix", "mix-player", "mix-download"]]) {
    $(player).src = r[key];
    $(link).href = `${r[key]}?download=1`;
    $(link).download = `${stem}-${key}.wav`;
  }
  const image = $("spectrogram");
  image.src = r.spectrogram;
  await image.decode().catch(() => undefined);
  const seconds = (performance.now() - t0) / 1000;
  const s = r.settings;
  $("stats").textContent = `${r.audio_seconds.toFixed(1)} s of accompaniment generated in ` +
    `${r.generation_seconds.toFixed(2)} s on ${r.device}: real-time factor ${r.rtf.toFixed(3)} ` +
    `(${s.sampler}, ${s.steps} steps` + (s.sampler === "ancestral" ? "" : ` ${s.spacing}`) +
    ` × ${r.windows} window${r.windows > 1 ? "s" : ""}, ` +
    `guidance ${s.cfg}, seed ${s.seed}). ${seconds.toFixed(2)} s from upload to players.` +
    (r.warnings.length ? ` Warning: ${r.warnings.join("; ")}` : "");
  $("result").dataset.browserSeconds = seconds.toFixed(3);
  setStatus(`done in ${seconds.toFixed(1)} s`, 1);
  $("result").hidden = false;
  document.body.dataset.state = "done";
}

window.addEventListener("DOMContentLoaded", () => {
  $("file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) setVocal(file, file.name);
  });
  $("vocal-player").addEventListener("loadedmetadata", checkDuration);
  $("record").addEventListener("click", toggleRecord);
  $("sampler").addEventListener("change", syncSteps);
  $("dice").addEventListener("click", () => {
    $("seed").value = Math.floor(Math.random() * 2 ** 31);
  });
  $("generate").addEventListener("click", generate);
  loadInfo().catch((err) => showError(`cannot reach the server: ${err.message || err}`));
});
