/* minsheng pages: after HTMX swaps in a result or an error, move keyboard focus to it
   (so screen readers announce it and the next Tab continues from there). */
document.addEventListener("htmx:afterSettle", function (event) {
  var target = event.detail && event.detail.elt;
  var scope = (target && target.isConnected) ? target : document;
  var focus = scope.querySelector("[data-focus]") || document.querySelector("#calculator [data-focus]");
  if (focus) {
    focus.focus({ preventScroll: false });
  }
});
