// finance page: built by issue 8; see docs/web.md.
document.getElementById('app').textContent = 'finance';
