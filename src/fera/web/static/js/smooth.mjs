// Smoothing (fera.runtime.smooth): per-track exponential moving average of the calibrated probabilities with
// alpha = 1 - exp(-dt / tau), so the result does not depend on the frame rate; the label switches only when the
// new top beats the current label by switch_margin.

export const SMOOTH = { tauS: 0.3, switchMargin: 0.1 };

const argmax = (p) => { let k = 0; for (let i = 1; i < p.length; i++) if (p[i] > p[k]) k = i; return k; };

export class Smoother {
  constructor(classNames, config = {}) {
    this.classNames = [...classNames];
    this.config = { ...SMOOTH, ...config };
    this.states = new Map();
  }

  reset() { this.states.clear(); }

  alpha(dt) {
    return this.config.tauS <= 0 ? 1 : 1 - Math.exp(-Math.max(dt, 0) / this.config.tauS);
  }

  /** Faces with their `expression` set from `probs` (null probs: the previous expression); others forgotten. */
  update(faces, now) {
    const keep = new Map();
    for (const f of faces) if (this.states.has(f.trackId)) keep.set(f.trackId, this.states.get(f.trackId));
    this.states = keep;
    return faces.map((f) => ({ ...f, expression: this.step(f, now) }));
  }

  step(face, now) {
    let st = this.states.get(face.trackId);
    if (face.probs != null) {
      const p = Float64Array.from(face.probs);
      if (p.length !== this.classNames.length) throw new Error(`${p.length} probabilities for ${this.classNames.length} classes`);
      if (st === undefined) {
        const k = argmax(p);
        st = { probs: p, label: k, lastT: now, since: now };
        this.states.set(face.trackId, st);
      } else {
        const a = this.alpha(now - st.lastT), q = new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) q[i] = st.probs[i] + a * (p[i] - st.probs[i]);
        st.probs = q;
        st.lastT = now;
        const top = argmax(q);
        if (top !== st.label && q[top] >= q[st.label] + this.config.switchMargin) { st.label = top; st.since = now; }
      }
    }
    if (st === undefined) return null;
    return { label: this.classNames[st.label], confidence: st.probs[st.label], probs: Float64Array.from(st.probs),
             since: st.since };
  }
}
