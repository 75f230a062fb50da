/* minsheng pages behind a login: after a form was answered (a one-time message, or an error),
   move keyboard focus to that message, so screen readers announce it and Tab continues there. */
document.addEventListener("DOMContentLoaded", function () {
  var message = document.querySelector("#form-errors, #action-error, #flash");
  if (message) {
    message.focus({ preventScroll: false });
  }
});
