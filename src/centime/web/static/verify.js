// Checks a receipt's audit proof in the browser, trusting nothing but the published keys:
// the leaf hash and the RFC 9162 inclusion path with SHA-256, the tree head's Ed25519
// signature (the message of centime.audit.sth: context, key id, tree size, timestamp and
// batch sequence as big-endian u64, root hash, batch hash), all through WebCrypto.
"use strict";
(function () {
  const box = document.querySelector("[data-verify]");
  if (!box) return;
  const button = box.querySelector("#verify-proof");
  const out = box.querySelector("#verify-result");
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const join = (...parts) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { all.set(p, at); at += p.length; }
    return all;
  };
  const sha256 = async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const u64 = (n) => {
    const out8 = new Uint8Array(8);
    new DataView(out8.buffer).setBigUint64(0, BigInt(n));
    return out8;
  };

  async function rootFromPath(index, size, leaf, path) {
    // RFC 9162 2.1.3.2 with integers kept as BigInt (indexes may pass 2^53).
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    for (const p of path) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(join(Uint8Array.of(1), p, r));
        if ((fn & 1n) === 0n) { while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; } }
      } else {
        r = await sha256(join(Uint8Array.of(1), r, p));
      }
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  async function checkPart(part, keys, stamp) {
    if (part.pending || !part.head) return "pending";
    const proof = part.proof, head = part.head;
    const leaf = await sha256(join(Uint8Array.of(0), bytes(proof.leaf_data)));
    if (String(proof.tree_size) !== String(head.tree_size)) return "bad";
    const root = await rootFromPath(proof.leaf_index, proof.tree_size, leaf,
      proof.audit_path.map(bytes));
    if (!root || !same(root, bytes(head.root_hash))) return "bad";
    const key = keys.find((k) => k.key_id === head.key_id);
    if (!key) return "bad";
    const context = new TextEncoder().encode("centime-audit-tree-head-v1\0");
    const message = join(context, bytes(head.key_id), u64(head.tree_size), u64(stamp),
      u64(head.batch_seq), bytes(head.root_hash), bytes(head.batch_hash));
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", bytes(key.public_key), { name: "Ed25519" },
        false, ["verify"]);
    } catch (error) { return "unsupported"; }
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, bytes(head.signature),
      message);
    return ok ? "ok" : "bad";
  }

  button.addEventListener("click", async () => {
    out.textContent = "…";
    try {
      const answer = await fetch(box.dataset.verify, { credentials: "same-origin" });
      const text = await answer.text();
      const doc = JSON.parse(text);
      // Nanosecond timestamps pass 2^53: their digits are taken from the text, exactly.
      const stamps = [...text.matchAll(/"timestamp":\s*(\d+)/g)].map((m) => m[1]);
      const results = [];
      let next = 0;
      for (const part of doc.parts) {
        const stamp = part.head ? stamps[next++] : "0";
        results.push(await checkPart(part, doc.keys, stamp));
      }
      const worst = ["bad", "unsupported", "pending"].find((r) => results.includes(r)) || "ok";
      out.textContent = button.dataset[worst];
      out.dataset.result = worst;
    } catch (error) {
      out.textContent = button.dataset.bad;
      out.dataset.result = "bad";
    }
  });
})();
