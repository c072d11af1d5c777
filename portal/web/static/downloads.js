// portal: one-time downloads (a key made now, handed over once) with feedback on the page.
//
// A form marked data-one-time is sent with fetch. A file in the answer is saved from a blob,
// the form's errors are cleared, the form is emptied and the panel named by data-done is shown
// (its a[data-certificate] link gets the X-Certificate-Location header); the parts named by
// data-hide (a CSS selector) are hidden, since they no longer apply. A page in the answer (the
// server refused the input) lends its error messages to the form on this page, which keeps its
// other behaviour; a different page (signed out, link used up) replaces this one. Without this
// script the plain form posts and the browser downloads the file itself. data-one-time-when
// ("method=generate") limits this to one choice of a radio group; other choices post as usual.
(function () {
  "use strict";

  function fileName(disposition) {
    var match = /filename="([^"]+)"/.exec(disposition || "");
    return match ? match[1] : "download";
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob), link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function clearErrors(form) {
    form.querySelectorAll(".has-error").forEach(function (part) {
      part.classList.remove("has-error");
    });
    form.querySelectorAll("p.error, .alert-error").forEach(function (message) {
      message.remove();
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.setAttribute("aria-invalid", "false");
    });
  }

  // The refused form's messages, moved onto the same fields of the form on this page.
  function showErrors(form, fresh) {
    clearErrors(form);
    var fields = form.querySelectorAll(".field"), freshFields = fresh.querySelectorAll(".field");
    freshFields.forEach(function (freshField, index) {
      var field = fields[index];
      if (!field || !freshField.classList.contains("has-error")) { return; }
      field.classList.add("has-error");
      var hint = field.querySelector(":scope > .hint");
      freshField.querySelectorAll(":scope > p.error").forEach(function (message) {
        field.insertBefore(document.importNode(message, true), hint);
      });
      field.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.setAttribute("aria-invalid", "true");
      });
    });
    var anchor = form.querySelector("input[name=csrf_token]");
    fresh.querySelectorAll(".alert-error").forEach(function (message) {
      form.insertBefore(document.importNode(message, true), anchor ? anchor.nextSibling : null);
    });
    var focus = form.querySelector(".has-error input, .has-error select");
    if (focus) { focus.focus(); }
  }

  function done(form, response) {
    clearErrors(form);
    form.reset();
    form.querySelectorAll("input[type=text][autocomplete=new-password]").forEach(function (input) {
      input.type = "password";  // "Show" left it readable; the next one starts hidden
    });
    if (form.dataset.hide) {
      document.querySelectorAll(form.dataset.hide).forEach(function (part) { part.hidden = true; });
    }
    var panel = document.getElementById(form.dataset.done);
    if (!panel) { return; }
    var link = panel.querySelector("a[data-certificate]"), where = response.headers.get("X-Certificate-Location");
    if (link && where) { link.href = where; }
    var serial = panel.querySelector("[data-serial]");
    if (serial) { serial.textContent = response.headers.get("X-Certificate-Serial") || ""; }
    panel.hidden = false;
    panel.focus();
  }

  function replacePage(html) {
    document.open();
    document.write(html);
    document.close();
  }

  function send(form) {
    var button = form.querySelector("button[type=submit]");
    form.dataset.busy = "1";
    if (button) { button.disabled = true; }
    function settle() {
      delete form.dataset.busy;
      if (button) { button.disabled = false; }
    }
    return fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        var disposition = response.headers.get("Content-Disposition") || "";
        if (response.ok && disposition.indexOf("attachment") === 0) {
          return response.blob().then(function (blob) {
            save(blob, fileName(disposition));
            settle();
            done(form, response);
          });
        }
        return response.text().then(function (html) {
          settle();
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = form.id && page.getElementById(form.id);
          if (fresh) { showErrors(form, fresh); } else { replacePage(html); }
        });
      })
      .catch(function () {
        settle();
        var failed = document.getElementById(form.dataset.failed);
        if (failed) { failed.hidden = false; }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-one-time]") || !window.fetch) { return; }
    if (form.dataset.oneTimeWhen) {  // "method=generate": only while that choice is picked
      var rule = form.dataset.oneTimeWhen.split("=");
      var checked = form.querySelector("input[name='" + rule[0] + "']:checked");
      if (!checked || checked.value !== rule[1]) { return; }
    }
    event.preventDefault();
    if (!form.dataset.busy) { send(form); }  // a second click while the first runs sends nothing
  });
})();
