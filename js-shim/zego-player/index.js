Component(require('../zego-components.js')(1));
