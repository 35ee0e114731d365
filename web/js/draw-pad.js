// draw-pad.js - a canvas to draw a digit on with a mouse, a finger or a pen
// (Pointer Events cover all three), or with the keyboard: arrow keys move a
// pen, Space/Enter lifts or lowers it.
//
// createDrawPad(canvas, cursorCanvas, {onStroke}) -> {clear, ink, isEmpty, destroy}
//   canvas        holds the ink only (drawn opaque black on transparent),
//                 so its alpha channel is the ink intensity.
//   cursorCanvas  an overlay of the same size for the keyboard pen's marker
//                 (may be null).
//   onStroke()    called when a stroke ends (pointer up, or each keyboard move
//                 with the pen down).

const KEY_STEP = 1 / 20; // share of the canvas side per arrow key press

export function createDrawPad(canvas, cursorCanvas, { onStroke } = {}) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const lineWidth = Math.max(2, Math.round(canvas.width / 12)); // ~2.3 px once scaled to 20x20
  let drawn = false;
  let last = null;            // {x, y} in canvas pixels while a pointer stroke is on
  let activePointer = null;
  const pen = { x: canvas.width / 2, y: canvas.height / 2, down: false, shown: false };

  function style() {
    ctx.lineWidth = lineWidth;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#000';
    ctx.fillStyle = '#000';
  }

  function dot(p) {
    style();
    ctx.beginPath();
    ctx.arc(p.x, p.y, lineWidth / 2, 0, Math.PI * 2);
    ctx.fill();
    drawn = true;
  }

  function line(a, b) {
    style();
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    drawn = true;
  }

  // Pointer position in canvas pixels (the canvas is scaled by CSS).
  function at(e) {
    const r = canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) / r.width) * canvas.width,
      y: ((e.clientY - r.top) / r.height) * canvas.height,
    };
  }

  function onDown(e) {
    if (activePointer !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    activePointer = e.pointerId;
    canvas.setPointerCapture?.(e.pointerId);
    last = at(e);
    dot(last);
  }

  function onMove(e) {
    if (e.pointerId !== activePointer) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = at(ev);
      line(last, p);
      last = p;
    }
  }

  function onUp(e) {
    if (e.pointerId !== activePointer) return;
    activePointer = null;
    last = null;
    onStroke?.();
  }

  function drawCursor() {
    if (!cursorCanvas) return;
    const c = cursorCanvas.getContext('2d');
    c.clearRect(0, 0, cursorCanvas.width, cursorCanvas.height);
    if (!pen.shown) return;
    c.lineWidth = 2;
    c.strokeStyle = pen.down ? '#d33' : '#36c';
    c.beginPath();
    c.arc(pen.x, pen.y, lineWidth / 2 + 3, 0, Math.PI * 2);
    c.stroke();
  }

  function onKey(e) {
    const step = canvas.width * KEY_STEP;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (e.key === ' ' || e.key === 'Enter') {
      pen.down = !pen.down;
      if (pen.down) dot(pen);
      else onStroke?.();
    } else if (moves[e.key]) {
      const from = { x: pen.x, y: pen.y };
      pen.x = Math.min(canvas.width, Math.max(0, pen.x + moves[e.key][0]));
      pen.y = Math.min(canvas.height, Math.max(0, pen.y + moves[e.key][1]));
      if (pen.down) line(from, pen);
    } else {
      return;
    }
    e.preventDefault();
    pen.shown = true;
    drawCursor();
  }

  function onBlur() {
    if (pen.down) { pen.down = false; onStroke?.(); }
    pen.shown = false;
    drawCursor();
  }

  canvas.addEventListener('pointerdown', onDown);
  canvas.addEventListener('pointermove', onMove);
  canvas.addEventListener('pointerup', onUp);
  canvas.addEventListener('pointercancel', onUp);
  canvas.addEventListener('keydown', onKey);
  canvas.addEventListener('blur', onBlur);

  return {
    clear() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
      pen.down = false;
      drawCursor();
    },
    isEmpty: () => !drawn,
    // The ink as (h, w) values 0..1 from the alpha channel.
    ink() {
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const out = new Float32Array(canvas.width * canvas.height);
      for (let i = 0; i < out.length; i++) out[i] = data[i * 4 + 3] / 255;
      return { data: out, w: canvas.width, h: canvas.height };
    },
    destroy() {
      canvas.removeEventListener('pointerdown', onDown);
      canvas.removeEventListener('pointermove', onMove);
      canvas.removeEventListener('pointerup', onUp);
      canvas.removeEventListener('pointercancel', onUp);
      canvas.removeEventListener('keydown', onKey);
      canvas.removeEventListener('blur', onBlur);
    },
  };
}
