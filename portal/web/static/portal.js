// portal: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // A strong password from the browser's CSPRNG: 20 characters without look-alikes (~115 bits).
  var ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.";
  function strongPassword(length) {
    var out = "", bytes = new Uint8Array(1);
    while (out.length < length) {
      window.crypto.getRandomValues(bytes);
      if (bytes[0] < 256 - (256 % ALPHABET.length)) { out += ALPHABET[bytes[0] % ALPHABET.length]; }
    }
    return out;
  }

  // Words the script writes, in the page's language (base.html puts them on <body>).
  function word(name, english) {
    return (document.body && document.body.dataset["i18n" + name]) || english;
  }

  function on(id, handler) {
    var element = document.getElementById(id);
    if (element) { element.addEventListener("click", handler); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    on("suggest-password", function (event) {
      var input = document.getElementById(event.currentTarget.dataset.target);
      input.value = strongPassword(20);
      input.type = "text";
      var toggle = document.getElementById("toggle-password");
      if (toggle) { toggle.textContent = word("Hide", "Hide"); }
      input.focus();
      input.select();
    });
    on("toggle-password", function (event) {
      var input = document.getElementById(event.currentTarget.dataset.target);
      var hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      event.currentTarget.textContent = hidden ? word("Hide", "Hide") : word("Show", "Show");
    });

    // Filters apply as soon as a select changes.
    document.querySelectorAll("select.auto-submit").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });

    // A second confirmation before destructive forms (the server checks its own box too).
    document.querySelectorAll("form.confirm-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });

    // A PEM file chosen for upload is shown in the text box it belongs to.
    document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        var target = document.getElementById(input.dataset.fill);
        if (!file || !target || file.size > 65536) { return; }
        file.text().then(function (text) {
          if (text.indexOf("-----BEGIN") !== -1) { target.value = text; input.value = ""; }
        });
      });
    });

    document.querySelectorAll("button.copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        if (navigator.clipboard && source) {
          navigator.clipboard.writeText(source.textContent.trim()).then(function () {
            button.textContent = word("Copied", "Copied");
          });
        }
      });
    });
  });
})();

// Parts of a form that apply to one choice only (data-show-when="method=csr") are hidden while
// another choice is picked. Without this script every part shows and the server ignores the rest.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form [data-show-when]").forEach(function (part) {
      var rule = part.dataset.showWhen.split("="), form = part.closest("form");
      function update() {
        var checked = form.querySelector("input[name='" + rule[0] + "']:checked");
        part.hidden = !checked || checked.value !== rule[1];
      }
      form.querySelectorAll("input[name='" + rule[0] + "']").forEach(function (input) {
        input.addEventListener("change", update);
      });
      update();
    });
  });
})();

// The browser's time zone, for the dates the pages show (UTC until the portal knows it).
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("portal_timezone=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "portal_timezone=" + encodeURIComponent(zone) +
        "; path=/; max-age=31536000; samesite=lax" +
        (location.protocol === "https:" ? "; secure" : "");
    }
  } catch (error) { /* no Intl: dates stay in UTC */ }
})();

// Layout helpers: the Menu button that folds the navigation on narrow screens, and the column
// names that each table cell shows when narrow screens stack a table's rows as cards.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".topbar .menu-button");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (menu) {
      var setOpen = function (open) {
        menu.classList.toggle("open", open);
        button.setAttribute("aria-expanded", open ? "true" : "false");
      };
      button.closest(".topbar").classList.add("js-menu");
      button.hidden = false;
      button.addEventListener("click", function () { setOpen(!menu.classList.contains("open")); });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && menu.classList.contains("open")) {
          setOpen(false);
          button.focus();
        }
      });
    }

    document.querySelectorAll("table.table").forEach(function (table) {
      var names = [];
      table.querySelectorAll("thead th").forEach(function (th) {
        // A head cell whose only text is for screen readers (an actions column) gives no label.
        var hidden = th.querySelector(".sr-only"), name = th.textContent.trim();
        if (hidden && hidden.textContent.trim() === name) { name = ""; }
        for (var i = 0; i < (th.colSpan || 1); i++) { names.push(name); }
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (names[column] !== undefined && cell.colSpan === 1 && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", names[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  });
})();
