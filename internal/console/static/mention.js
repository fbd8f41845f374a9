// @mention suggestions for the review form's comment box. Progressive
// enhancement only: without this script the comment is typed by hand and
// the page lists who can be mentioned.
(function () {
  "use strict";
  var box = document.getElementById("comment");
  var list = document.getElementById("mention-suggestions");
  var members = document.getElementById("members");
  if (!box || !list || !members) return;
  var people = Array.prototype.map.call(members.querySelectorAll("li[data-email]"), function (li) {
    return { email: li.getAttribute("data-email"), name: li.querySelector("span").textContent };
  });
  var active = -1, shown = [], swallow = false;

  function query() {
    var upto = box.value.slice(0, box.selectionStart);
    var m = /(^|\s)@([^\s@]*)$/.exec(upto);
    return m ? { text: m[2].toLowerCase(), start: upto.length - m[2].length - 1 } : null;
  }
  function close() { list.hidden = true; list.innerHTML = ""; shown = []; active = -1; }
  function choose(p) {
    var q = query();
    if (!q) return close();
    var before = box.value.slice(0, q.start), after = box.value.slice(box.selectionStart);
    box.value = before + "@" + p.email + " " + after;
    var pos = before.length + p.email.length + 2;
    box.setSelectionRange(pos, pos);
    close();
    box.focus();
  }
  function render() {
    list.innerHTML = "";
    shown.forEach(function (p, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.textContent = p.name + " — " + p.email;
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(p); });
      list.appendChild(li);
    });
    list.hidden = shown.length === 0;
  }
  box.addEventListener("input", function () {
    var q = query();
    if (!q) return close();
    shown = people.filter(function (p) {
      return p.email.toLowerCase().indexOf(q.text) === 0 || p.name.toLowerCase().indexOf(q.text) !== -1;
    }).slice(0, 8);
    active = shown.length ? 0 : -1;
    render();
  });
  box.addEventListener("keydown", function (e) {
    if (list.hidden || !shown.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      swallow = true;
      choose(shown[active]);
    } else if (e.key === "Escape") {
      close();
    }
  });
  // Some input paths deliver the key's character separately from the
  // keydown: drop the one that chose a suggestion.
  box.addEventListener("keypress", function (e) {
    if (swallow) { e.preventDefault(); swallow = false; }
  });
  box.addEventListener("keyup", function () { swallow = false; });
  box.addEventListener("blur", function () { setTimeout(close, 150); });
})();
