// The page's only script: leave quickly, live search progress, copy buttons, drag and drop,
// and a heartbeat so the server can stop once the page is closed. No data leaves this computer.
"use strict";

(function () {
  var csrf = document.body ? document.body.getAttribute("data-csrf") : null;

  var leave = document.getElementById("leave");
  if (leave) {
    leave.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.replace("/away");  // replaces this page in the history: Back does not return to it
    });
  }

  var progress = document.getElementById("progress");
  function poll() {
    if (!progress || progress.querySelector("[data-done]")) { return; }
    fetch(progress.getAttribute("data-poll"), { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
      .then(function (html) { progress.innerHTML = html; window.setTimeout(poll, 1000); })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = button.getAttribute("data-copied");
      });
    });
  });

  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      if (input && event.dataTransfer) { input.files = event.dataTransfer.files; }
    });
  });

  if (csrf) {
    var beat = function () {
      var body = new URLSearchParams();
      body.set("csrf", csrf);
      fetch("/alive", { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
    };
    window.setInterval(beat, 30000);
  }
})();
