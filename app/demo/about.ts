/** The lazy route. It carries the version it was built with, so a test can tell which release served the chunk. */
export function renderAbout(target: HTMLElement): void {
  target.dataset.version = __DEMO_VERSION__;
  target.innerHTML = '';
  const heading = document.createElement('h2');
  heading.textContent = 'About';
  const text = document.createElement('p');
  text.textContent = `This chunk was built as version ${__DEMO_VERSION__}. Updraft fetched it from the release that serves this page.`;
  target.append(heading, text);
}
