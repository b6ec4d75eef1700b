Component(require('../zego-components.js')(0));
