// portal: copy buttons. A button[data-copy-target] copies the text of the element with that id
// and says so: its label becomes its data-copied text for a moment, and the page's
// #copy-status region (read out by screen readers) says the same. Buttons work by keyboard
// (Enter, Space) because they are buttons. Without this script the values stay selectable.
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function say(button) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = button.dataset.copied || "Copied";
    var status = document.getElementById("copy-status");
    if (status) { status.textContent = button.dataset.copied || "Copied"; }
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      button.textContent = label;
      if (status) { status.textContent = ""; }
    }, 4000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy-target]");
    if (!button) { return; }
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) { return; }
    copyText(source.textContent.trim()).then(function () { say(button); }, function () {
      button.textContent = button.dataset.failed || button.textContent;
    });
  });
})();
