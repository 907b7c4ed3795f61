// Building DOM nodes. Every string becomes a text node or an attribute value, never
// markup: payloads, logs, errors, stages and names come from users and must show as
// text, whatever they contain.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      node.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
    }
  }
}

function appendChildren(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// h('td', {class: 'num'}, 'text', otherNode): an HTML element.
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  appendChildren(node, children);
  return node;
}

// The same for SVG elements.
export function s(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, props);
  appendChildren(node, children);
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

// Replaces a container's rows by `items`, reusing the node of an item whose key and
// signature are unchanged: a row under the mouse is not swapped out by a refresh, so
// clicks are never lost and transitions keep running.
export class KeyedRows {
  constructor(container) {
    this.container = container;
    this.rows = new Map();  // key → {node, signature}
  }

  render(items, keyOf, signatureOf, build) {
    const next = new Map();
    const nodes = [];
    for (const item of items) {
      const key = keyOf(item);
      const signature = signatureOf(item);
      let row = this.rows.get(key);
      if (!row || row.signature !== signature) row = { node: build(item), signature };
      next.set(key, row);
      nodes.push(row.node);
    }
    this.rows = next;
    const current = this.container.children;
    const same = current.length === nodes.length && nodes.every((node, i) => current[i] === node);
    if (!same) this.container.replaceChildren(...nodes);
  }

  get(key) {
    return this.rows.get(key)?.node;
  }

  clear(placeholder) {
    this.rows = new Map();
    this.container.replaceChildren(...(placeholder ? [placeholder] : []));
  }
}
