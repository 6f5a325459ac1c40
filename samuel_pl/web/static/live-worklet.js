// AudioWorklet of the Live mode: posts the microphone in blocks of 1024 samples (channel 0) with
// the context time of each block's first sample.
class SamuelCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(1024);
    this.filled = 0;
    this.time = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    let at = 0;
    while (at < input.length) {
      if (this.filled === 0) this.time = currentTime + at / sampleRate;
      const n = Math.min(input.length - at, this.block.length - this.filled);
      this.block.set(input.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.block.length) {
        this.port.postMessage({ samples: this.block.slice(), time: this.time });
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("samuel-capture", SamuelCapture);
