// The driver pages: "Print or save the receipt" (inline handlers are blocked by the CSP).
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("[data-print]")) {
    window.print();
  }
});
