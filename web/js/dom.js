// dom.js - a tiny element builder. Text always goes in through textContent,
// so values from the API can never inject markup.

// h('a', {href: '#/jobs', class: 'btn', onclick: fn, 'aria-label': 'x'}, 'text', child, [more])
// Props: "class", "text", "dataset" (object), "on<event>" (listener), boolean
// true/false for boolean attributes, anything else becomes an attribute.
// null/undefined/false children are skipped; arrays are flattened.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replace every child of el with the given ones.
export function replaceChildren(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

// A unique id for label/description wiring ("f-3").
let nextId = 0;
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A polite status message: an element with role=status (or alert for errors).
export function notice(text, kind = 'info') {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
}
