// Gatehouse passkeys: registration (#passkey-register) and sign-in or re-authentication
// (#passkey-login).
// Loaded from the page under a strict CSP (no inline script): it finds its elements by
// id and reads the API URLs from data attributes.
(function () {
  "use strict";

  // --- base64url (fallback for browsers without parse*FromJSON / toJSON) ---

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64url(str) {
    var s = str.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function decodeDescriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: fromB64url(d.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromB64url(json.user.id) }),
      excludeCredentials: decodeDescriptors(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      allowCredentials: decodeDescriptors(json.allowCredentials)
    });
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    var r = cred.response, response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) { // registration
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else { // assertion
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: response
    };
  }

  // --- plumbing ---

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error("server");
          err.status = res.status;
          err.code = data && data.error;
          throw err;
        }
        return data;
      });
    });
  }

  // A same-site path: "/x", never "//host" or "/\host" (browsers treat both as a host).
  function safePath(p) {
    return typeof p === "string" && p.charAt(0) === "/" && p.charAt(1) !== "/" &&
      p.charAt(1) !== "\\" && !/[\u0000-\u001f\u007f]/.test(p);
  }

  function showError(text) {
    var el = document.getElementById("passkey-error");
    if (el) el.textContent = text;
  }

  // describe says what happened, as far as the browser and the server tell: the
  // browser reports "no passkey on this device" and "cancelled" alike (NotAllowedError,
  // so sites cannot probe for credentials); the server tells a passkey it does not know
  // (removed, or never registered here) from one that failed verification.
  function describe(err, failed) {
    switch (err && err.name) {
      case "NotAllowedError": return "No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site.";
      case "InvalidStateError": return "This authenticator already holds a passkey for your account.";
      case "SecurityError": return "Passkeys cannot be used on this address.";
    }
    switch (err && err.code) {
      case "passkey_unknown": return "This passkey is not registered here any more (it may have been removed). Sign in with your password or another passkey.";
      case "no_passkeys": return "You have no passkey yet. Use your authenticator app or a recovery code.";
      case "no_pending_sign_in": return "Your sign-in expired. Please sign in again.";
      case "too_many_requests": return "Too many attempts. Please wait a moment and try again.";
    }
    if (err && err.status === 429) return "Too many attempts. Please wait a moment and try again.";
    if (err && err.status === 503) return "Signing in is busy right now. Please try again in a moment.";
    return failed;
  }

  // Runs action on click (button) or submit (form), one at a time. action returns a
  // promise; a rejection carries the text to show in userText.
  function wire(el, action) {
    var busy = false;
    el.addEventListener(el.tagName === "FORM" ? "submit" : "click", function (ev) {
      ev.preventDefault();
      if (busy) return;
      if (!window.PublicKeyCredential || !navigator.credentials) {
        showError("This browser does not support passkeys.");
        return;
      }
      busy = true;
      el.setAttribute("aria-busy", "true");
      showError("");
      action().catch(function (err) {
        showError(err.userText || "Something went wrong. Please try again.");
      }).then(function () {
        busy = false;
        el.removeAttribute("aria-busy");
      });
    });
  }

  function failWith(text) {
    return function (err) {
      var e = new Error("passkey ceremony failed");
      e.userText = describe(err, text);
      throw e;
    };
  }

  // --- ceremonies ---

  function register(el) {
    var nameInput = document.getElementById("passkey-name");
    return postJSON(el.dataset.begin, {}).catch(function (err) {
      // Adding a factor needs a recent proof of identity: confirm it, then come back.
      if (err && err.code === "reauthentication_required") {
        var prefix = String(el.dataset.begin).split("/api/v1/")[0];
        var back = window.location.pathname + window.location.search;
        if (safePath(prefix + "/reauth") && safePath(back)) {
          window.location.assign(prefix + "/reauth?rd=" + encodeURIComponent(back));
          return new Promise(function () {});
        }
      }
      throw err;
    }).then(function (begin) {
      return navigator.credentials.create({ publicKey: creationOptions(begin.publicKey) }).then(function (cred) {
        return postJSON(el.dataset.finish, {
          ceremony: begin.ceremony,
          name: nameInput ? nameInput.value : "",
          credential: credentialJSON(cred)
        });
      });
    }).then(function () {
      var done = el.dataset.done;
      if (safePath(done)) window.location.assign(done);
      else window.location.reload();
    }).catch(failWith("The passkey could not be added. Please try again."));
  }

  function login(el) {
    return postJSON(el.dataset.begin, {}).then(function (begin) {
      return navigator.credentials.get({ publicKey: requestOptions(begin.publicKey) }).then(function (cred) {
        return postJSON(el.dataset.finish, { ceremony: begin.ceremony, credential: credentialJSON(cred) });
      });
    }).then(function (res) {
      if (!res || (res.status !== "signed_in" && res.status !== "reauthenticated")) throw new Error("unexpected answer");
      var to = el.dataset.redirect;
      window.location.assign(safePath(to) ? to : "/");
    }).catch(failWith("Signing in with the passkey failed."));
  }

  function init() {
    var reg = document.getElementById("passkey-register");
    if (reg) wire(reg, function () { return register(reg); });
    var log = document.getElementById("passkey-login");
    if (log) wire(log, function () { return login(log); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
