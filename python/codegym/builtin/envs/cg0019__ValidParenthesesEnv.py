import gymnasium
import ast
import json


OPENING = "([{"
CLOSING = ")]}"
MATCHING = {")": "(", "]": "[", "}": "{"}


class ValidParenthesesEnv(gymnasium.Env):
    """Decide whether a string of brackets ()[]{} is balanced: every closing bracket closes the
    most recent unclosed opening bracket of the same kind, and none stays open at the end (the
    empty string is balanced). Observe shows the string; use the stack tools Push, PopAndMatch and
    StackSize and submit true or false (a JSON boolean) with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.PUSH = 1
        self.POP_AND_MATCH = 2
        self.STACK_SIZE = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "Push": self.PUSH,
            "PopAndMatch": self.POP_AND_MATCH,
            "StackSize": self.STACK_SIZE,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "ValidParenthesesEnv@"
        if not env_str.startswith(prefix):
            return None
        return ValidParenthesesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.s = str(options.get("s", ""))
        # the stack of opening brackets, owned by the environment
        self.stack = []
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        # repeatedly delete adjacent matching pairs; balanced iff nothing is left
        text = self.s
        while True:
            shorter = text.replace("()", "").replace("[]", "").replace("{}", "")
            if shorter == text:
                break
            text = shorter
        return text == ""

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.PUSH:
                if "bracket" in params:
                    msg = self.Push(params["bracket"])
                else:
                    msg = "Error: 'bracket' parameter is missing for Push action."
            elif action_code == self.POP_AND_MATCH:
                if "bracket" in params:
                    msg = self.PopAndMatch(params["bracket"])
                else:
                    msg = "Error: 'bracket' parameter is missing for PopAndMatch action."
            elif action_code == self.STACK_SIZE:
                msg = self.StackSize()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the bracket string made of the characters ()[]{}. The task is to decide whether
        it is balanced: every closing bracket closes the most recent unclosed opening bracket
        of the same kind, and nothing stays open at the end.

        Returns:
            str: JSON string.

        Example Output:
            "\"([]){}\""
        """
        return json.dumps(self.s)

    def Push(self, bracket):
        r"""
        Push an opening bracket onto the stack.

        Args:
            bracket (str): one of "(", "[", "{".

        Returns:
            str: the stack size after the push.

        Example Output:
            "2"
        """
        if not isinstance(bracket, str) or len(bracket) != 1 or bracket not in OPENING:
            raise ValueError("parameter 'bracket' must be one of '(', '[', '{'")
        self.stack.append(bracket)
        return str(len(self.stack))

    def PopAndMatch(self, bracket):
        r"""
        Pop the top opening bracket off the stack and check whether the given closing bracket
        closes it. If the stack is empty, nothing is popped.

        Args:
            bracket (str): one of ")", "]", "}".

        Returns:
            str: "match" if the popped bracket is of the same kind, "mismatch: popped X" if it
            is of another kind, or "empty stack" if there was nothing to pop.

        Example Output:
            "match"
        """
        if not isinstance(bracket, str) or len(bracket) != 1 or bracket not in CLOSING:
            raise ValueError("parameter 'bracket' must be one of ')', ']', '}'")
        if not self.stack:
            return "empty stack"
        top = self.stack.pop()
        if top == MATCHING[bracket]:
            return "match"
        return f"mismatch: popped {top}"

    def StackSize(self):
        r"""
        Return the number of opening brackets currently on the stack.

        Returns:
            str: the stack size as an integer.

        Example Output:
            "0"
        """
        return str(len(self.stack))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (bool): true if the bracket string is balanced, false otherwise.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: True, reference answer: True, result: correct, reward=1"
        """
        if not isinstance(answer, bool):
            raise ValueError("parameter 'answer' must be a boolean (true or false)")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        s = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for ch in s:
            if ch in "([{":
                self.step(json.dumps({"name": "Push", "parameters": {"bracket": ch}}))
            else:
                result = self.step(json.dumps({"name": "PopAndMatch", "parameters": {"bracket": ch}}))[1]
                if result != "match":
                    return self.step(json.dumps({"name": "Done", "parameters": {"answer": False}}))[1]
        size = int(self.step(json.dumps({"name": "StackSize", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": size == 0}}))[1]


if __name__ == "__main__":
    env = ValidParenthesesEnv.from_env_str('ValidParenthesesEnv@{"s": "([]){}"}')
    print(env.solve())
    print("step count:", env.step_count)
    env = ValidParenthesesEnv.from_env_str('ValidParenthesesEnv@{"s": "([)]"}')
    print(env.solve())
    print("step count:", env.step_count)
