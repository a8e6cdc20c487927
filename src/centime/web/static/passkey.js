// centime's passkey ceremonies (WebAuthn): the site's one script, the project's own code.
// Buttons and forms opt in with data-passkey="signup|signin|stepup|add|enroll".
"use strict";
(function () {
  const csrf = () => document.querySelector('meta[name="csrf"]').content;
  const b64 = {
    decode(text) {
      const s = text.replace(/-/g, "+").replace(/_/g, "/");
      const raw = atob(s + "===".slice((s.length + 3) % 4));
      return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      const bytes = new Uint8Array(buffer);
      let raw = "";
      for (const b of bytes) raw += String.fromCharCode(b);
      return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.detail || "the request was refused");
      error.code = response.status === 429 ? "too_many_attempts" : data.code;
      throw error;
    }
    return data;
  }
  function creationOptions(o) {
    o.challenge = b64.decode(o.challenge);
    o.user.id = b64.decode(o.user.id);
    o.excludeCredentials = (o.excludeCredentials || []).map((c) => ({ ...c, id: b64.decode(c.id) }));
    return o;
  }
  function requestOptions(o) {
    o.challenge = b64.decode(o.challenge);
    o.allowCredentials = (o.allowCredentials || []).map((c) => ({ ...c, id: b64.decode(c.id) }));
    return o;
  }
  function toJSON(credential) {
    const r = credential.response;
    const out = { id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(), response: {} };
    out.response.clientDataJSON = b64.encode(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64.encode(r.authenticatorData);
      out.response.signature = b64.encode(r.signature);
      if (r.userHandle) out.response.userHandle = b64.encode(r.userHandle);
    }
    return out;
  }
  async function create(optionsUrl, body) {
    const options = await post(optionsUrl, body);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return toJSON(credential);
  }
  async function get(optionsUrl) {
    const options = await post(optionsUrl);
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return toJSON(credential);
  }
  // The page's language: its sentences are on <body data-t-...>.
  const words = document.body.dataset;
  let codes = {};
  try { codes = JSON.parse(words.tCodes || "{}"); } catch (error) { codes = {}; }
  function explain(error) {
    if (error.code && codes[error.code]) return codes[error.code];
    if (error.name === "NotAllowedError" || error.name === "AbortError") {
      return words.tCancelled || error.message;
    }
    return codes._ || error.message;
  }
  function say(element, text, bad) {
    const out = element.closest("[data-ceremony]").querySelector("[role=status]");
    if (out) { out.textContent = text; out.classList.toggle("bad", !!bad); }
  }
  function showCodes(element, codes, next) {
    const box = document.getElementById("recovery");
    box.querySelector("ol").replaceChildren(...codes.map((c) => {
      const li = document.createElement("li"); li.textContent = c; return li;
    }));
    box.querySelector("a").href = next;
    box.hidden = false;
    box.querySelector("a").focus();
    element.closest("[data-ceremony]").hidden = true;
  }
  const ceremonies = {
    async signup(form) {
      const data = new FormData(form);
      const body = { name: data.get("name"), kind: data.get("kind"),
        referral_code: data.get("referral_code") || null };
      const credential = await create("/web/signup/options", body);
      const done = await post("/web/signup/finish", { credential });
      showCodes(form, done.recovery_codes, done.redirect);
    },
    async enroll(form) {
      const token = new FormData(form).get("token");
      const credential = await create("/web/enroll/options", { token });
      const done = await post("/web/enroll/finish", { credential });
      showCodes(form, done.recovery_codes, done.redirect);
    },
    async signin(form) {
      const credential = await get("/web/signin/options");
      const done = await post("/web/signin/finish", { credential });
      // Back to where the person was (a checkout), when the page was given a path.
      window.location.assign(form.dataset.next || done.redirect);
    },
    async add(form) {
      const name = new FormData(form).get("name") || "Passkey";
      // A new passkey needs a fresh confirmation with one you already have.
      if (form.dataset.confirmed !== "1") {
        const confirmation = await get("/web/stepup/options");
        await post("/web/stepup/finish", { credential: confirmation });
      }
      const credential = await create("/web/passkeys/options", {});
      const done = await post("/web/passkeys/finish", { credential, name });
      window.location.assign(done.redirect);
    },
    async stepup(form) {
      const credential = await get("/web/stepup/options");
      await post("/web/stepup/finish", { credential });
      const next = form.dataset.next;
      if (next) window.location.assign(next); else form.dataset.confirmed = "1";
    },
  };
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const kind = form.dataset.passkey;
    if (kind && ceremonies[kind]) {
      event.preventDefault();
      say(form, words.tWaiting || "Waiting for your passkey…");
      try {
        await ceremonies[kind](form);
        say(form, words.tDone || "Done.");
      } catch (error) {
        say(form, (words.tRefused || "Refused:") + " " + explain(error), true);
      }
      return;
    }
    // A form that needs a fresh confirmation: step up first, then submit it for real.
    if (form.dataset.stepup !== undefined && !form.dataset.confirmed) {
      event.preventDefault();
      try {
        const credential = await get("/web/stepup/options");
        await post("/web/stepup/finish", { credential });
        form.dataset.confirmed = "1";
        form.submit();
      } catch (error) {
        const status = form.querySelector("[role=status]");
        if (status) status.textContent = (words.tRefused || "Refused:") + " " + explain(error);
      }
    }
  });
  window.centimePasskeys = { post, get, create };
})();
