// What the person gets for each announcement: words through ONE channel (the screen reader, through a polite live
// region, or the browser's voice, never both), fera's earcon (the runtime's own WAV bytes, panned left or right),
// and a vibration pattern where the device has the Vibration API. Each can be switched off; mute silences all.
import { adjective, statusText, STATUS_TEXT } from "./wording.mjs";
import { pattern } from "./vibrate.mjs";

export const LIVE_GAP_MS = 1000;  // at most one live-region update a second; the newest waiting text wins

/** [sound name, position] of an earcon code: "edge_left" is the edge sound at the left (earcons.sound_of). */
export function soundOf(code, position) {
  return code.startsWith("edge_") ? ["edge", position || code.slice(5)] : [code, position];
}

/** The announcement as a text line (speak.words): the face's line, else the text, else the earcon's words. */
export function lineOf(d) {
  if (d.line || d.text) return d.line || d.text;
  const code = d.earcon || d.kind, body = code in STATUS_TEXT || d.kind === "status" ? statusText(code) : adjective(code);
  return d.position ? `${d.position}: ${body}` : body;
}

export class Output {
  constructor({ region, site, record, log }) {
    Object.assign(this, { region, site, record, log, mode: "screenreader", sounds: true, vibration: true, muted: false });
    this.lastLive = -Infinity; this.pending = null; this.buffers = new Map(); this.ctx = null;
  }

  get canVibrate() { return typeof navigator.vibrate === "function"; }

  /** One decision of the assistant (spoken ones only reach here). */
  announce(d) {
    const text = d.text || "";
    this.record.announcements.push(text || d.earcon || "");
    this.log(lineOf(d));
    if (this.muted) return;
    const sound = d.kind === "expression" || d.kind === "status" ? d.earcon : null;
    if (sound && this.sounds) this.play(sound, d.position);
    if (sound && this.vibration && this.canVibrate) {
      const p = pattern(sound);
      this.record.vibrations.push(p);
      navigator.vibrate(p);
    }
    if (text) this.say(text);
  }

  say(text) {
    if (this.mode === "voice" && "speechSynthesis" in window) {
      speechSynthesis.cancel();  // the newest wins
      speechSynthesis.speak(new SpeechSynthesisUtterance(text));
      return;
    }
    const wait = LIVE_GAP_MS - (performance.now() - this.lastLive);
    if (this.pending) clearTimeout(this.pending);
    this.pending = null;
    if (wait <= 0) { this.setLive(text); return; }
    this.pending = setTimeout(() => { this.pending = null; this.setLive(text); }, wait);
  }

  setLive(text) {
    this.region.textContent = "";  // so the same sentence twice is read twice
    this.lastLive = performance.now();
    setTimeout(() => { this.region.textContent = text; this.record.live.push(text); }, 50);
  }

  stop() {
    if (this.pending) clearTimeout(this.pending);
    this.pending = null;
    if ("speechSynthesis" in window) speechSynthesis.cancel();
    if (this.canVibrate) navigator.vibrate(0);
  }

  /** Plays the earcon `code` panned to `position`: the WAV fera.runtime.earcons renders, fetched once. */
  async play(code, position) {
    const [name, where] = soundOf(code, position);
    if (!this.site.earcons.names.includes(name)) return;
    const url = `sounds/${encodeURIComponent(name)}-${where || "ahead"}.wav`;
    try {
      this.ctx = this.ctx || new AudioContext();
      if (this.ctx.state === "suspended") await this.ctx.resume().catch(() => {});
      if (!this.buffers.has(url)) {
        this.buffers.set(url, fetch(url).then((r) => {
          if (!r.ok) throw new Error(`the server answered ${r.status}`);
          return r.arrayBuffer();
        }).then((data) => {
          this.record.earconBytes.push({ url, bytes: Array.from(new Uint8Array(data)) });
          return this.ctx.decodeAudioData(data);
        }));
      }
      const source = this.ctx.createBufferSource();
      source.buffer = await this.buffers.get(url);
      source.connect(this.ctx.destination);
      source.start();
      this.record.earcons.push({ name, position: where || "ahead", url });
    } catch (e) {
      this.buffers.delete(url);
      this.log(`sound ${code} not played: ${e.message}`);
    }
  }
}
